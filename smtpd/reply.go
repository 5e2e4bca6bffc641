package smtpd

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Reply texts used in more than one place, or worth finding by name.
const (
	textOK              = "Ok"
	textBadSequence     = "Bad sequence of commands"
	textNeedHelo        = "Send HELO/EHLO first"
	textNeedEhlo        = "Send EHLO first"
	textNeedMail        = "Need MAIL command first"
	textNeedRcpt        = "Need RCPT command first"
	textNoArgs          = "Syntax error: no parameters allowed"
	textNotImplemented  = "Command not implemented"
	textUnknownCommand  = "Command unrecognized"
	textLineTooLong     = "Line too long"
	textTooBig          = "Message size exceeds fixed maximum message size"
	textShutdown        = "Service shutting down, closing transmission channel"
	textIdleTimeout     = "Idle timeout, closing transmission channel"
	textTooManyErrors   = "Too many errors, closing transmission channel"
	textLocalError      = "Requested action aborted: local error in processing"
	textInternal        = "Internal server error, closing transmission channel"
	textAuthRequired    = "Authentication required"
	textAuthFailed      = "Authentication credentials invalid"
	textAuthOK          = "Authentication successful"
	textAuthCancelled   = "Authentication cancelled"
	textBadBase64       = "Invalid base64 data"
	textParamsAfterHelo = "Parameters not allowed after HELO; use EHLO"
)

// maxTranscript bounds the transcript kept per session (lines).
const maxTranscript = 1000

// reply writes one reply, single- or multi-line, to the buffered writer.
// It is the only place replies are produced: it records them in the
// transcript and the debug log and counts consecutive errors. enhanced
// is "" for replies without an RFC 3463 code (greeting, HELO/EHLO, 334,
// 354). Nothing is flushed here: see connReader.Read.
func (c *conn) reply(code int, enhanced string, lines ...string) {
	if len(lines) == 0 {
		lines = []string{""}
	}
	prefix := strconv.Itoa(code)
	for i, l := range lines {
		sep := " "
		if i < len(lines)-1 {
			sep = "-"
		}
		text := prefix + sep
		if enhanced != "" {
			text += enhanced + " "
		}
		text += l
		c.record("S", text)
		if c.err == nil {
			_, c.err = c.bw.WriteString(text + "\r\n")
		}
	}
	c.replies++
	c.lastCode = code
	c.obs.Reply(code)
	switch {
	case code >= 500:
		c.errCount++
	case code < 400:
		c.errCount = 0
	}
}

// replyError answers with e (a parser verdict or a Backend *Error).
func (c *conn) replyError(e *Error) {
	code := e.Code
	enh := e.Enhanced
	if code < 200 || code > 599 {
		code, enh = 451, "4.3.0"
	}
	if enh == "" {
		enh = strconv.Itoa(code/100) + ".0.0"
	}
	msg := strings.NewReplacer("\r", " ", "\n", " ").Replace(e.Message)
	c.reply(code, enh, msg)
}

// replyDeliverErr maps a Backend error to a reply: an *Error is used as
// is, anything else becomes 451 4.3.0 and is logged, never echoed.
func (c *conn) replyDeliverErr(err error, id string) {
	var se *Error
	switch {
	case errors.As(err, &se):
		c.log.Info("message rejected by backend", "id", id, "code", se.Code, "enhanced", se.Enhanced)
		c.replyError(se)
	case errors.Is(err, errPanic):
		c.reply(421, "4.3.0", textInternal)
		c.quit = true
	default:
		c.log.Error("delivery failed", "id", id, "err", err)
		c.reply(451, "4.3.0", textLocalError)
	}
}

// record appends a transcript line and logs it at Debug. Callers pass
// text that is already free of credentials and message content.
func (c *conn) record(dir, text string) {
	c.log.Debug("smtp", "dir", dir, "line", text)
	if len(c.tr) >= maxTranscript {
		if !c.trFull {
			c.trFull = true
			c.tr = append(c.tr, TranscriptLine{Time: time.Now(), Dir: "*", Text: "[transcript truncated]"})
		}
		return
	}
	c.tr = append(c.tr, TranscriptLine{Time: time.Now(), Dir: dir, Text: strings.ToValidUTF8(text, "\uFFFD")})
}

// trimTranscript runs after each message: it keeps the session preamble
// (everything before the first MAIL) and drops the finished transaction,
// so the next message's transcript is preamble + a marker + its own lines.
func (c *conn) trimTranscript() {
	if c.trPre < 0 || c.trPre >= len(c.tr) {
		return
	}
	n := len(c.tr) - c.trPre
	c.tr = append(c.tr[:c.trPre:c.trPre], TranscriptLine{
		Time: time.Now(), Dir: "*", Text: "[" + strconv.Itoa(n) + " transcript lines of earlier transactions omitted]",
	})
	c.trFull = false
}
