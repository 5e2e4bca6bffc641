package smtpd_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"

	"mailsink/smtpd"
)

// A complete mail sink: print every message's envelope and last line.
func Example() {
	backend := smtpd.BackendFunc(func(ctx context.Context, env *smtpd.Envelope, r io.Reader) error {
		msg, err := io.ReadAll(r) // Return-Path + Received, then the client's bytes
		if err != nil {
			return err
		}
		lines := bytes.Split(bytes.TrimSuffix(msg, []byte("\r\n")), []byte("\r\n"))
		fmt.Printf("%s → %s via %s: %s\n", env.From, env.Rcpts[0].Address, env.Protocol, lines[len(lines)-1])
		return nil
	})
	srv := smtpd.New(smtpd.Config{Hostname: "mx.example"}, backend, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	err = smtp.SendMail(ln.Addr().String(), nil, "alice@example.com", []string{"bob@example.com"},
		[]byte("Subject: hi\r\n\r\nHello, Bob!\r\n"))
	fmt.Println("SendMail:", err)
	// Output:
	// alice@example.com → bob@example.com via UTF8SMTP: Hello, Bob!
	// SendMail: <nil>
}
