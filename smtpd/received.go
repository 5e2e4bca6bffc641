package smtpd

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"
)

// lookupRemote resolves the client's address for the Received header.
// It runs in the background from connect on, so it never delays a reply;
// failures just mean no name.
func (c *conn) lookupRemote() {
	defer close(c.rdnsDone)
	ip := remoteIP(c.raw.RemoteAddr())
	if !ip.IsValid() {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, lookupBudget)
	defer cancel()
	names, err := c.srv.cfg.LookupAddr(ctx, ip.String())
	if err != nil {
		return
	}
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		if validHostname(n) {
			c.rdnsName = n
			return
		}
	}
}

// reverseName waits for the lookup at most until its budget is spent.
func (c *conn) reverseName() string {
	select {
	case <-c.rdnsDone:
		return c.rdnsName
	default:
	}
	t := time.NewTimer(time.Until(c.start.Add(lookupBudget)))
	defer t.Stop()
	select {
	case <-c.rdnsDone:
		return c.rdnsName
	case <-t.C:
		return ""
	}
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}

// validHostname keeps attacker-controlled PTR data out of the header.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// traceHeaders returns the Return-Path and Received header fields
// prepended to each message (RFC 5321 §4.4), e.g.
//
//	Return-Path: <a@x.test>
//	Received: from client.test (host.example [192.0.2.1])
//		by localhost (mailsink) with ESMTPS (TLS1.3 TLS_AES_128_GCM_SHA256) id ID
//		for <b@y.test>; Thu, 26 Nov 2026 10:34:29 +0000
//
// "for" appears only with exactly one recipient; without it the id is
// followed by ";" and the date goes on the next line.
func (c *conn) traceHeaders(env *Envelope, t time.Time) []byte {
	var b strings.Builder
	b.WriteString("Return-Path: <" + env.From + ">\r\n")
	b.WriteString("Received: from " + env.Helo + " (")
	ip := remoteIP(env.RemoteAddr)
	if name := c.reverseName(); name != "" {
		b.WriteString(name + " ")
	}
	switch {
	case !ip.IsValid():
		b.WriteString("[unknown]")
	case ip.Is6():
		b.WriteString("[IPv6:" + ip.String() + "]")
	default:
		b.WriteString("[" + ip.String() + "]")
	}
	b.WriteString(")\r\n\tby " + c.srv.cfg.Hostname + " (mailsink) with " + env.Protocol)
	if env.TLS != nil {
		b.WriteString(" (" + strings.ReplaceAll(env.TLS.Version, " ", "") + " " + env.TLS.CipherSuite + ")")
	}
	b.WriteString(" id " + env.ID)
	date := t.Format("Mon, 02 Jan 2006 15:04:05 -0700")
	if len(env.Rcpts) == 1 {
		b.WriteString("\r\n\tfor <" + env.Rcpts[0].Address + ">; " + date + "\r\n")
	} else {
		b.WriteString(";\r\n\t" + date + "\r\n")
	}
	return []byte(b.String())
}
