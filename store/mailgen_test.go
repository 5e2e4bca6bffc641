package store_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// mailGen makes realistic, deterministic messages for size and speed
// measurements: varied prose (a skewed draw from a few hundred words, like
// real text), Received and DKIM headers, an HTML newsletter body with
// tracking links, and a PDF-like attachment whose streams are random bytes
// (deflated content is), so it is as incompressible as real ones.
type mailGen struct {
	r *rand.Rand
}

func newMailGen(seed uint64) *mailGen {
	return &mailGen{r: rand.New(rand.NewPCG(seed, 0x6d61696c73696e6b))}
}

var genWords = strings.Fields(`the of and to a in is it you that he was for on are with as I his they
be at one have this from or had by hot word but what some we can out other were all there when up
use your how said an each she which do their time if will way about many then them write would like
so these her long make thing see him two has look more day could go come did number sound no most
people my over know water than call first who may down side been now find any new work part take get
place made live where after back little only round man year came show every good me give our under
name very through just form sentence great think say help low line differ turn cause much mean before
move right boy old too same tell does set three want air well also play small end put home read hand
port large spell add even land here must big high such follow act why ask men change went light kind
off need house picture try us again animal point mother world near build self earth father invoice
account order shipment delivery payment receipt subscription password reset confirm verify meeting
schedule project update report quarterly budget review team deadline release customer support ticket
feedback survey newsletter offer discount coupon webinar invitation calendar reminder security login
device browser location attachment document contract proposal agreement signature approval request`)

// word draws a word, frequent ones more often.
func (g *mailGen) word() string {
	u := g.r.Float64()
	return genWords[int(u*u*u*float64(len(genWords)))]
}

// sentence is 5–18 words, capitalised, with a full stop.
func (g *mailGen) sentence() string {
	n := 5 + g.r.IntN(14)
	var b strings.Builder
	for i := range n {
		w := g.word()
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			b.WriteByte(' ')
			if g.r.IntN(12) == 0 {
				w += ","
			}
		}
		b.WriteString(w)
	}
	if g.r.IntN(8) == 0 {
		fmt.Fprintf(&b, " %d", g.r.IntN(100000))
	}
	b.WriteString(".")
	return b.String()
}

// paragraphs returns paragraphs of prose totalling at least n bytes.
func (g *mailGen) paragraphs(n int) []string {
	var out []string
	for total := 0; total < n; {
		var p []string
		for range 2 + g.r.IntN(5) {
			p = append(p, g.sentence())
		}
		s := strings.Join(p, " ")
		out = append(out, s)
		total += len(s) + 4
	}
	return out
}

// wrap folds s at 76 columns with CRLF, as mail clients send text.
func wrap(s string) string {
	var b strings.Builder
	line := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && line+1+len(w) > 76 {
			b.WriteString("\r\n")
			line = 0
		} else if i > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

func (g *mailGen) token(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *mailGen) randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := g.r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// base64CRLF encodes b in 76-column CRLF lines.
func base64CRLF(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76])
		out.WriteString("\r\n")
		s = s[76:]
	}
	out.WriteString(s)
	return out.String()
}

// headers returns a realistic header block (without the blank line) for
// message i.
func (g *mailGen) headers(i int, subject, contentType string) string {
	first := []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi"}
	last := []string{"Smith", "Jones", "Müller", "Garcia", "Chen", "Okafor", "Rossi", "Novak"}
	domains := []string{"example.com", "example.org", "mail.example.net", "corp.example"}
	from := first[g.r.IntN(len(first))] + " " + last[g.r.IntN(len(last))]
	fromDomain := domains[g.r.IntN(len(domains))]
	to := first[g.r.IntN(len(first))] + " " + last[g.r.IntN(len(last))]
	date := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * 37 * time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\r\n\tby mailsink.test with ESMTPS id %s\r\n\tfor <%s@example.org>; %s\r\n",
		g.r.IntN(9), fromDomain, g.r.IntN(9), fromDomain, g.r.IntN(250), g.token(12), strings.ToLower(strings.Fields(to)[0]), date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Received: from app%d.internal (localhost [127.0.0.1])\r\n\tby mx.%s (Postfix) with ESMTP id %s;\r\n\t%s\r\n",
		g.r.IntN(40), fromDomain, strings.ToUpper(g.token(10)), date.Add(-2*time.Second).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=s1;\r\n\th=from:to:subject:date:message-id:mime-version;\r\n\tbh=%s;\r\n\tb=%s\r\n",
		fromDomain, base64.StdEncoding.EncodeToString(g.randomBytes(32)), wrap(base64.StdEncoding.EncodeToString(g.randomBytes(256))))
	fmt.Fprintf(&b, "From: %s <%s@%s>\r\n", from, strings.ToLower(strings.ReplaceAll(from, " ", ".")), fromDomain)
	fmt.Fprintf(&b, "To: %s <%s@example.org>\r\n", to, strings.ToLower(strings.ReplaceAll(to, " ", ".")))
	fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	fmt.Fprintf(&b, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.%d@%s>\r\n", g.token(20), i, fromDomain)
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: %s", contentType)
	return b.String()
}

// text returns a plain-text message of about size bytes (headers
// included), e.g. 2048.
func (g *mailGen) text(i, size int) []byte {
	h := g.headers(i, g.sentence(), "text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit")
	var body strings.Builder
	for _, p := range g.paragraphs(size - len(h) - 4) {
		body.WriteString(wrap(p))
		body.WriteString("\r\n\r\n")
	}
	raw := h + "\r\n\r\n" + body.String()
	if len(raw) > size { // cut at a line end near size
		if k := strings.LastIndex(raw[:size], "\r\n"); k > len(h) {
			raw = raw[:k+2]
		}
	}
	return []byte(raw)
}

// multipart returns multipart/mixed(alternative(text, HTML), PDF) of about
// size bytes (e.g. 50_000): about a third prose in two renderings, two
// thirds a base64 PDF-like attachment.
func (g *mailGen) multipart(i, size int) []byte {
	outer, inner := "mix-"+g.token(24), "alt-"+g.token(24)
	var b bytes.Buffer
	b.WriteString(g.headers(i, g.sentence(), "multipart/mixed; boundary=\""+outer+"\""))
	b.WriteString("\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", outer, inner)

	paras := g.paragraphs(size / 6)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", inner)
	for _, p := range paras {
		b.WriteString(wrap(p))
		b.WriteString("\r\n\r\n")
	}
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", inner)
	b.WriteString("<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><style>body{font-family:Arial,sans-serif;color:#333}" +
		".btn{background:#0066cc;color:#fff;padding:8px 16px;border-radius:4px}</style></head>\r\n" +
		"<body><table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\">\r\n")
	for _, p := range paras {
		fmt.Fprintf(&b, "<tr><td style=\"padding:12px 24px;font-size:15px;line-height:22px;\">\r\n<p>%s</p>\r\n", wrap(p))
		if g.r.IntN(3) == 0 {
			fmt.Fprintf(&b, "<a class=\"btn\" href=\"https://click.example.com/t/%s?u=%d&amp;c=%s\">%s</a>\r\n",
				g.token(32), g.r.IntN(1e6), g.token(8), g.word())
		}
		b.WriteString("</td></tr>\r\n")
	}
	fmt.Fprintf(&b, "</table><img src=\"https://open.example.com/o/%s.gif\" width=\"1\" height=\"1\" alt=\"\"></body></html>\r\n", g.token(40))
	fmt.Fprintf(&b, "--%s--\r\n\r\n", inner)

	// The attachment fills the rest: base64 is 4/3 of the binary.
	left := size - b.Len() - 200
	pdf := g.pdf(max(left*3/4, 1000))
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/pdf; name=\"invoice-%d.pdf\"\r\n"+
		"Content-Disposition: attachment; filename=\"invoice-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", outer, i, i)
	b.WriteString(base64CRLF(pdf))
	fmt.Fprintf(&b, "\r\n--%s--\r\n", outer)
	return b.Bytes()
}

// pdf returns about n bytes shaped like a PDF: text objects around
// FlateDecode streams of random bytes.
func (g *mailGen) pdf(n int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj := 1
	for b.Len() < n-400 {
		l := min(2000+g.r.IntN(6000), n-400-b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", obj, l)
		b.Write(g.randomBytes(l))
		b.WriteString("\nendstream\nendobj\n")
		obj++
	}
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \ntrailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", obj, obj, b.Len())
	return b.Bytes()
}
