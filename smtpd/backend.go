package smtpd

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// Param is one ESMTP parameter of MAIL or RCPT, as the client sent it
// (keyword upper-cased, value verbatim; Value is "" for a bare keyword).
type Param struct {
	Key   string
	Value string
}

// Recipient is one accepted RCPT TO.
type Recipient struct {
	Address string // the forward-path without <>, route stripped
	Params  []Param
}

// TranscriptLine is one line of the SMTP dialogue. Message contents and
// AUTH secrets are never recorded; the line says what was elided instead.
type TranscriptLine struct {
	Time time.Time
	Dir  string // "C" client to server, "S" server to client, "*" event (TLS handshake, disconnect…)
	Text string
}

// TLSInfo describes the TLS state of a session.
type TLSInfo struct {
	Version     string // e.g. "TLS 1.3"
	CipherSuite string // e.g. "TLS_AES_128_GCM_SHA256"
	ServerName  string // SNI sent by the client, if any
}

// Envelope is everything the client said outside the message content,
// handed to the Backend with each message.
type Envelope struct {
	ID         string   // unique message id, also used in the Received header
	Session    string   // the session's id: in the server's log lines and the transcript's first line
	RemoteAddr net.Addr // the client
	LocalAddr  net.Addr
	Helo       string // the HELO/EHLO argument
	ESMTP      bool   // greeted with EHLO
	TLS        *TLSInfo
	AuthUser   string // "" when not authenticated
	From       string // reverse-path without <>; "" for the null reverse-path
	FromParams []Param
	Rcpts      []Recipient
	Protocol   string // RFC 3848 name used in Received: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP…
	Body       string // "7BIT", "8BITMIME" or "BINARYMIME" (from BODY=, default 7BIT)
	SMTPUTF8   bool
	Chunked    bool      // delivered with BDAT instead of DATA
	Received   time.Time // end of data (the Received header carries the start of data)
	// Transcript of the session up to the end of this message's data
	// (the final reply is added by the server after Deliver returns and
	// is therefore not included).
	Transcript []TranscriptLine
}

// A Backend receives accepted messages. r yields the message exactly as it
// will be stored: the Return-Path and Received headers mailsink prepends,
// then the bytes the client sent (dot-unstuffed, line endings untouched).
// r must be consumed before Deliver returns. The content is streamed
// while the client sends it, so env.Received and env.Transcript are
// filled in only when r reports io.EOF: read them after draining r (a
// read error from r means the message was aborted; return an error).
// Deliver must return only once
// the message is durable: the server answers 250 when it returns nil.
// Return an *Error to choose the reply; any other error becomes
// 451 4.3.0 and is logged.
type Backend interface {
	Deliver(ctx context.Context, env *Envelope, r io.Reader) error
}

// BackendFunc adapts a function to Backend.
type BackendFunc func(ctx context.Context, env *Envelope, r io.Reader) error

// Deliver calls f.
func (f BackendFunc) Deliver(ctx context.Context, env *Envelope, r io.Reader) error {
	return f(ctx, env, r)
}

// Error is an SMTP reply used as an error value.
type Error struct {
	Code     int    // e.g. 552
	Enhanced string // e.g. "5.3.4"; "" derives "X.0.0" from Code
	Message  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("smtp %d %s %s", e.Code, e.Enhanced, e.Message)
}
