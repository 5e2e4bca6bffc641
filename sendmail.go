package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Exit codes of `mailsink sendmail`, from sendmail's <sysexits.h>.
const (
	exUsage       = 64 // EX_USAGE: bad command line, no recipients
	exIOErr       = 74 // EX_IOERR: standard input could not be read
	exUnavailable = 69 // EX_UNAVAILABLE: server unreachable, or a 5xx refusal
	exTempFail    = 75 // EX_TEMPFAIL: a 4xx reply or a broken connection
)

const (
	// smtpDialTimeout bounds connecting; smtpSessionTimeout the whole session.
	smtpDialTimeout    = 30 * time.Second
	smtpSessionTimeout = 5 * time.Minute
)

const sendmailUsage = `Usage: mailsink sendmail [options] [recipient ...]
       sendmail [options] [recipient ...]      (the binary linked as "sendmail")

A sendmail-compatible drop-in (PHP's sendmail_path, Rails, Django, cron):
reads one message from standard input until EOF and submits it over SMTP
to mailsink. Bare LF line endings are sent as CRLF. Like a real MTA, it
adds a Date, a Message-ID and a From header when the message has none.
Recipients are the arguments (comma-separated lists allowed; a bare name
like "root" gets "@<this host>").

Options:
  -t              also take recipients from the To, Cc and Bcc headers, and
                  remove the Bcc header from the message sent
  -f ADDR, -fADDR, -r ADDR, -rADDR
                  envelope sender ("<>" for none); default: the From
                  header's address, else $USER@<this host>
  -F NAME         full name for the From header added when there is none
  -i, -oi         accepted and ignored: a line with a single dot never ends
                  the input, which is always read to EOF
  -bm             deliver (the default and only mode)
  -oX...          other -o options are ignored, and so are -U -v -m -n -G -eX
                  and -N -R -V -B -C -X -L -O -h with their value
  --              end of options
  --smtp-addr HOST:PORT
                  mailsink's SMTP address (MAILSINK_SMTP_ADDR, default
                  127.0.0.1:1025; a wildcard host means loopback)
  --starttls      use STARTTLS when the server offers it, without verifying
                  its certificate (default off: plain SMTP)
  --help          print this text

Exit status: 0 sent, 64 bad usage or no recipients, 69 server unreachable
or message refused (5xx), 74 standard input unreadable, 75 temporary failure
(4xx reply, connection lost).
`

// errConnect marks a failure to reach the SMTP server at all.
var errConnect = errors.New("cannot connect")

// sendmailArgs returns the subcommand arguments for argv: a binary named
// "sendmail" (a symlink to mailsink) behaves as `mailsink sendmail`.
func sendmailArgs(argv []string) []string {
	if len(argv) == 0 {
		return nil
	}
	if filepath.Base(argv[0]) == "sendmail" {
		return append([]string{"sendmail"}, argv[1:]...)
	}
	return argv[1:]
}

// sendmailOpts is what a sendmail command line says.
type sendmailOpts struct {
	extract   bool   // -t
	sender    string // -f/-r
	senderSet bool
	fullName  string // -F
	smtpAddr  string // --smtp-addr
	addrSet   bool
	startTLS  bool // --starttls
	help      bool
	rcpts     []string // arguments, each possibly a comma-separated list
}

// parseSendmailArgs reads sendmail's option syntax: single letters with
// the value attached or in the next argument, options and recipients in
// any order, "--" ending the options.
func parseSendmailArgs(args []string) (*sendmailOpts, error) {
	o := &sendmailOpts{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		// value returns an option's value: attached, else the next argument.
		value := func(attached string) (string, error) {
			if attached != "" {
				return attached, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s needs a value", a)
			}
			i++
			return args[i], nil
		}
		switch {
		case a == "--":
			o.rcpts = append(o.rcpts, args[i+1:]...)
			return o, nil
		case a == "-" || !strings.HasPrefix(a, "-"):
			o.rcpts = append(o.rcpts, a)
			continue
		case a == "--help" || a == "-help":
			o.help = true
			continue
		}
		if long, ok := longOption(a); ok {
			name, val, hasVal := strings.Cut(long, "=")
			switch name {
			case "smtp-addr":
				v, err := value(val)
				if err != nil {
					return nil, err
				}
				o.smtpAddr, o.addrSet = v, true
			case "starttls":
				o.startTLS = true
				if hasVal {
					b, err := strconv.ParseBool(val)
					if err != nil {
						return nil, fmt.Errorf("--starttls=%q is not a boolean", val)
					}
					o.startTLS = b
				}
			default:
				return nil, fmt.Errorf("unknown option %s", a)
			}
			continue
		}
		// Letters group as with getopt: -ti is -t -i; a letter that takes
		// a value takes the rest of the argument, or the next one.
		for opts := a[1:]; opts != ""; {
			letter, rest := opts[0], opts[1:]
			opts = ""
			var err error
			switch letter {
			case 't':
				o.extract = true
				opts = rest
			case 'i', 'U', 'v', 'm', 'n', 'G':
				opts = rest // accepted and ignored; -i because input always runs to EOF
			case 'o', 'e', 'd', 'A':
				// -oX..., -eX, -dX, -AX: modifiers with attached values, ignored
			case 'f', 'r':
				o.sender, err = value(rest)
				o.senderSet = true
			case 'F':
				o.fullName, err = value(rest)
			case 'N', 'R', 'V', 'B', 'C', 'X', 'L', 'O', 'h':
				_, err = value(rest) // options with a value we have no use for
			case 'b':
				if rest != "m" {
					return nil, fmt.Errorf("mode -b%s is not supported (only -bm)", rest)
				}
			default:
				return nil, fmt.Errorf("unknown option -%c", letter)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

// longOption recognises our own long options, with one dash or two.
func longOption(a string) (string, bool) {
	s := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	for _, name := range []string{"smtp-addr", "starttls"} {
		if s == name || strings.HasPrefix(s, name+"=") {
			return s, true
		}
	}
	return "", strings.HasPrefix(a, "--")
}

// cmdSendmail implements `mailsink sendmail`.
func cmdSendmail(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stderr io.Writer) int {
	o, err := parseSendmailArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "sendmail: %v (see --help)\n", err)
		return exUsage
	}
	if o.help {
		fmt.Fprint(stderr, sendmailUsage)
		return 0
	}
	if !o.addrSet {
		o.smtpAddr = "127.0.0.1:1025"
		if v := getenv(envName("smtp-addr")); v != "" {
			o.smtpAddr = v
		}
	}
	o.smtpAddr = probeAddr(o.smtpAddr)
	if len(o.rcpts) == 0 && !o.extract {
		fmt.Fprintln(stderr, "sendmail: no recipients: give them as arguments or use -t (see --help)")
		return exUsage
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	raw, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "sendmail: read message: %v\n", err)
		return exIOErr
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	user := getenv("USER")
	if user == "" {
		user = getenv("LOGNAME")
	}
	if user == "" {
		user = "nobody"
	}
	sub, err := prepareMessage(raw, o, submitter{host: host, user: user, now: time.Now()})
	if err != nil {
		fmt.Fprintln(stderr, "sendmail:", err)
		return exUsage
	}
	if err := submit(ctx, o.smtpAddr, o.startTLS, host, sub); err != nil {
		fmt.Fprintln(stderr, "sendmail:", err)
		return smtpExit(err)
	}
	return 0
}

// submitter is who and when a submission comes from.
type submitter struct {
	host, user string
	now        time.Time
}

func (s submitter) qualify(addr string) string {
	if addr != "" && !strings.Contains(addr, "@") {
		return addr + "@" + s.host
	}
	return addr
}

// submission is an envelope and the message bytes to send.
type submission struct {
	from  string
	rcpts []string
	msg   []byte
}

// prepareMessage turns stdin into what is sent: CRLF line endings, the
// header fields a submission needs, the envelope.
func prepareMessage(raw []byte, o *sendmailOpts, who submitter) (*submission, error) {
	fields, body, sep := splitHeader(toCRLF(raw))
	get := func(name string) (headerField, bool) {
		for _, f := range fields {
			if strings.EqualFold(f.name, name) {
				return f, true
			}
		}
		return headerField{}, false
	}

	var rcpts []string
	seen := map[string]bool{}
	add := func(list string) {
		for _, a := range parseAddrs(list) {
			a = who.qualify(a)
			if k := strings.ToLower(a); !seen[k] {
				seen[k] = true
				rcpts = append(rcpts, a)
			}
		}
	}
	for _, r := range o.rcpts {
		add(r)
	}
	if o.extract {
		for _, f := range fields {
			switch strings.ToLower(f.name) {
			case "to", "cc", "bcc":
				add(f.value())
			}
		}
	}
	if len(rcpts) == 0 {
		return nil, errors.New("no recipients: none given as arguments, and -t found none in To, Cc or Bcc")
	}

	from, hasFrom := get("From")
	sender := who.user + "@" + who.host
	switch {
	case o.senderSet:
		sender = who.qualify(envelopeAddr(o.sender))
	case hasFrom:
		if addrs := parseAddrs(from.value()); len(addrs) > 0 {
			sender = who.qualify(addrs[0])
		}
	}

	var msg bytes.Buffer
	for _, f := range fields {
		if o.extract && strings.EqualFold(f.name, "Bcc") {
			continue
		}
		msg.WriteString(f.raw)
	}
	if !hasFrom {
		a := mail.Address{Name: o.fullName, Address: sender}
		if sender == "" {
			a.Address = who.user + "@" + who.host
		}
		msg.WriteString("From: " + a.String() + "\r\n")
	}
	if _, ok := get("Date"); !ok {
		msg.WriteString("Date: " + who.now.Format(time.RFC1123Z) + "\r\n")
	}
	if _, ok := get("Message-ID"); !ok {
		fmt.Fprintf(&msg, "Message-ID: <%d.%s@%s>\r\n", who.now.UnixNano(), rand.Text(), who.host)
	}
	if sep {
		msg.WriteString("\r\n")
	}
	msg.Write(body)
	return &submission{from: sender, rcpts: rcpts, msg: msg.Bytes()}, nil
}

// envelopeAddr reads a -f value: "<>" (or "") is the null sender, "<a@b>"
// and "Name <a@b>" give a@b.
func envelopeAddr(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || v == "<>" {
		return ""
	}
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	return strings.Trim(v, "<>")
}

// parseAddrs returns the addresses of an address list. Lists net/mail
// cannot parse (bare local names like "root", unknown charsets) are split
// at commas, taking what is in <…> when present.
func parseAddrs(list string) []string {
	var out []string
	if as, err := mail.ParseAddressList(list); err == nil {
		for _, a := range as {
			out = append(out, a.Address)
		}
		return out
	}
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if i := strings.LastIndexByte(part, '<'); i >= 0 {
			if j := strings.IndexByte(part[i:], '>'); j > 0 {
				part = part[i+1 : i+j]
			}
		}
		if part != "" && !strings.ContainsAny(part, " \t;:\"") {
			out = append(out, part)
		}
	}
	return out
}

// toCRLF turns every LF not preceded by CR into CRLF; bare CR stays.
func toCRLF(b []byte) []byte {
	n := bytes.Count(b, []byte("\n")) - bytes.Count(b, []byte("\r\n"))
	if n == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+n)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// headerField is one field of the header block, with its continuation
// lines and line endings as they came.
type headerField struct {
	name string
	raw  string // "Name: value\r\n" plus folded lines
}

// value is the field body, unfolded.
func (f headerField) value() string {
	_, v, _ := strings.Cut(f.raw, ":")
	v = strings.ReplaceAll(v, "\r\n", "")
	return strings.TrimSpace(v)
}

// splitHeader splits CRLF text into header fields and body. The header
// ends at an empty line, or at the first line that is neither a field nor
// a continuation; then sep is true and the body starts with that line (a
// separating empty line must be added). Without a header block at all the
// whole text is body.
func splitHeader(b []byte) (fields []headerField, body []byte, sep bool) {
	rest := b
	for len(rest) > 0 {
		end := bytes.Index(rest, []byte("\r\n"))
		line := rest
		if end >= 0 {
			line = rest[:end+2]
		}
		switch {
		case bytes.Equal(line, []byte("\r\n")):
			return fields, rest[2:], true
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1].raw += string(line)
		case isFieldLine(line):
			name, _, _ := bytes.Cut(line, []byte(":"))
			fields = append(fields, headerField{name: string(name), raw: string(line)})
		default:
			return fields, rest, true
		}
		rest = rest[len(line):]
	}
	// The input ended inside the header: make its last line whole.
	if n := len(fields); n > 0 && !strings.HasSuffix(fields[n-1].raw, "\r\n") {
		fields[n-1].raw += "\r\n"
	}
	return fields, nil, true
}

// isFieldLine says whether line starts with an RFC 5322 field name and a colon.
func isFieldLine(line []byte) bool {
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// submit sends sub over one SMTP session: EHLO, STARTTLS when wanted and
// offered, MAIL, one RCPT each, DATA.
func submit(ctx context.Context, addr string, startTLS bool, helo string, sub *submission) error {
	d := net.Dialer{Timeout: smtpDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %w", errConnect, err)
	}
	defer context.AfterFunc(ctx, func() { conn.Close() })() // unblocks I/O on cancel
	if err := conn.SetDeadline(time.Now().Add(smtpSessionTimeout)); err != nil {
		conn.Close()
		return fmt.Errorf("set deadline: %w", err)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting from %s: %w", addr, err)
	}
	defer c.Close() // after QUIT, or on failure: the error that matters is returned
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && startTLS {
		// A development catcher's certificate is usually self-signed.
		if err := c.StartTLS(&tls.Config{ServerName: host, InsecureSkipVerify: true}); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if err := c.Mail(sub.from); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %w", sub.from, err)
	}
	for _, r := range sub.rcpts {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("RCPT TO:<%s>: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(sub.msg); err != nil {
		return fmt.Errorf("send message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of data: %w", err)
	}
	// The message is accepted; a failed QUIT changes nothing about that.
	_ = c.Quit()
	return nil
}

// smtpExit maps a submission error to sendmail's exit codes.
func smtpExit(err error) int {
	var te *textproto.Error
	switch {
	case errors.As(err, &te) && te.Code >= 400 && te.Code < 500:
		return exTempFail
	case errors.As(err, &te):
		return exUnavailable
	case errors.Is(err, errConnect):
		return exUnavailable
	default:
		return exTempFail
	}
}
