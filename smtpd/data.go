package smtpd

import (
	"bufio"
	"bytes"
	"io"
)

// dotReader reads DATA content (RFC 5321 §4.5.2) from the connection's
// buffered reader. Unlike textproto.DotReader it never rewrites line
// endings: a line starts only after CRLF (or at the very beginning), a
// period at a line start is removed, and the content ends only at
// CRLF "." CRLF. Bare CR and bare LF are ordinary content, so "\n.\n",
// "\r.\r", "\n.\r\n" and "\r\n.\n" never end the message (the SMTP
// smuggling cases); in the last one the period sits at a line start and
// is removed like any other stuffed period, which is what a conforming
// sender's dot-stuffing expects.
type dotReader struct {
	r     *bufio.Reader
	state int
	pend  []byte // bytes held back while deciding (the "\r" after a line-start ".")
	eof   bool
}

const (
	dotBeginLine = iota // at the start of a line: a "." here is stuffing or the terminator
	dotDot              // saw "." at a line start
	dotDotCR            // saw "." "\r" at a line start
	dotData             // inside a line
	dotCR               // saw "\r" inside a line
)

func newDotReader(r *bufio.Reader) *dotReader {
	return &dotReader{r: r, state: dotBeginLine}
}

// Read returns unstuffed content; io.EOF after the terminator. An error
// from the underlying reader (timeout, disconnect) is returned as is;
// io.EOF from the connection becomes io.ErrUnexpectedEOF.
func (d *dotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.pend) > 0 {
			p[n] = d.pend[0]
			d.pend = d.pend[1:]
			n++
			continue
		}
		if d.eof {
			break
		}
		if n > 0 && d.r.Buffered() == 0 {
			break // return what we have rather than block
		}
		// Inside a line every octet up to the next CR is plain content:
		// copy the buffered run at once instead of octet by octet (a 50 KB
		// message is otherwise 50,000 trips through the state machine).
		if b := d.r.Buffered(); b > 0 && (d.state == dotData || d.state == dotBeginLine) {
			buf, _ := d.r.Peek(min(b, len(p)-n))
			i := bytes.IndexByte(buf, '\r')
			if i < 0 {
				i = len(buf)
			}
			if i > 0 && (d.state == dotData || buf[0] != '.') {
				n += copy(p[n:], buf[:i])
				d.r.Discard(i)
				d.state = dotData
				continue
			}
		}
		c, err := d.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		switch d.state {
		case dotBeginLine:
			if c == '.' {
				d.state = dotDot
				continue
			}
		case dotDot:
			if c == '\r' {
				d.state = dotDotCR
				continue
			}
		case dotDotCR:
			if c == '\n' {
				d.eof = true
				continue
			}
			// "." "\r" x at a line start: the period was stuffing; "\r" x is content.
			d.pend = append(d.pend[:0], '\r', c)
			d.state = dotData
			if c == '\r' {
				d.state = dotCR
			}
			continue
		case dotCR:
			if c == '\n' {
				p[n] = c
				n++
				d.state = dotBeginLine
				continue
			}
		}
		// Ordinary content octet.
		p[n] = c
		n++
		if c == '\r' {
			d.state = dotCR
		} else {
			d.state = dotData
		}
	}
	if n == 0 && d.eof {
		return 0, io.EOF
	}
	return n, nil
}
