package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"
)

// TestElisionMatchesWholeParse parses fixtures, the public corpus,
// generated multiparts and thousands of mutations of them both ways, whole
// and through a skeleton (elide.go), and requires the same part tree and
// envelope whenever the skeleton path is taken.
func TestElisionMatchesWholeParse(t *testing.T) {
	if RaceBuild {
		t.Skip("parsing, not concurrency: .ci/run runs it without -race")
	}
	db, err := Open(context.Background(), ":memory:", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck // test

	type input = elisionInput
	var inputs []input
	for _, glob := range []string{"../testdata/mail/*.eml", "../../shared/testdata-public/*.eml"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, input{name: filepath.Base(f), raw: b})
		}
	}
	r := rand.New(rand.NewPCG(7, 11))
	for i, g := range elisionCases(r) {
		inputs = append(inputs, input{name: fmt.Sprintf("gen-%d-%s", i, g.name), raw: g.raw, fast: g.fast})
	}
	base := len(inputs)
	for i := range base {
		if !bytes.Contains(bytes.ToLower(inputs[i].raw), []byte("boundary")) {
			continue
		}
		n := 12
		if strings.HasPrefix(inputs[i].name, "gen-") {
			n = 300
		}
		for k := range n {
			inputs = append(inputs, input{
				name: fmt.Sprintf("%s~mut%d", inputs[i].name, k),
				raw:  mutateMIME(r, inputs[i].raw),
			})
		}
	}

	// Every multipart of the corpus, not just those with big parts.
	for _, min := range []int{minElide, 1} {
		t.Run(fmt.Sprintf("min%d", min), func(t *testing.T) {
			db.elider.min = min
			checkElision(t, db, inputs)
		})
	}
}

type elisionInput struct {
	name string
	raw  []byte
	fast bool // must take the skeleton path
}

func checkElision(t *testing.T, db *DB, inputs []elisionInput) {
	var fast, slow, sized int
	for _, in := range inputs {
		bs := findBoundaries(in.raw)
		src, declared := withClosed(in.raw, bs.open), bs.declared
		sizes := map[*enmime.Part]int64{}
		if fast%2 == 1 {
			sizes = nil // every other one decodes everything
		}
		got, ok := db.readPartsElided(src, declared, sizes)
		if !ok {
			slow++
			if in.fast {
				t.Errorf("%s: expected the skeleton path", in.name)
			}
			continue
		}
		fast++
		want, err := db.parser.ReadParts(bytes.NewReader(src))
		if err != nil {
			t.Errorf("%s: whole parse fails (%v) but the skeleton parsed", in.name, err)
			continue
		}
		sized += len(sizes)
		if diff := diffParts(want, got, sizes); diff != "" {
			t.Errorf("%s: part trees differ: %s", in.name, diff)
			continue
		}
		we, err1 := db.parser.EnvelopeFromPart(want)
		ge, err2 := db.parser.EnvelopeFromPart(got)
		if (err1 == nil) != (err2 == nil) {
			t.Errorf("%s: envelope errors differ: %v / %v", in.name, err1, err2)
			continue
		}
		if err1 == nil && (we.Text != ge.Text || we.HTML != ge.HTML || len(we.Attachments) != len(ge.Attachments) ||
			len(we.Inlines) != len(ge.Inlines) || len(we.OtherParts) != len(ge.OtherParts) || len(we.Errors) != len(ge.Errors)) {
			t.Errorf("%s: envelopes differ", in.name)
		}
	}
	t.Logf("%d inputs: %d through a skeleton (%d parts only sized), %d whole", len(inputs), fast, sized, slow)
	if sized == 0 {
		t.Error("no part was only sized")
	}
	if fast < len(inputs)/10 {
		t.Errorf("only %d of %d inputs took the skeleton path", fast, len(inputs))
	}
}

// diffParts describes the first difference between two part trees; b's
// parts in sizes must have no content, and a's one of that size.
func diffParts(a, b *enmime.Part, sizes map[*enmime.Part]int64) string {
	for ; a != nil || b != nil; a, b = a.NextSibling, b.NextSibling {
		if a == nil || b == nil {
			return "different number of parts"
		}
		type view struct {
			ID, CT, Disp, File, Charset, Orig, CID, Boundary string
			Params                                           map[string]string
			Header                                           map[string][]string
			Content, Epilogue                                []byte
			Errors                                           []string
		}
		v := func(p *enmime.Part) view {
			out := view{p.PartID, p.ContentType, p.Disposition, p.FileName, p.Charset, p.OrigCharset,
				p.ContentID, p.Boundary, p.ContentTypeParams, p.Header, p.Content, p.Epilogue, nil}
			for _, e := range p.Errors {
				out.Errors = append(out.Errors, e.Error())
			}
			return out
		}
		va, vb := v(a), v(b)
		if n, ok := sizes[b]; ok {
			if int64(len(a.Content)) != n || len(b.Content) != 0 {
				return fmt.Sprintf("part %s: size %d recorded, content %d decoded whole, %d left", a.PartID, n, len(a.Content), len(b.Content))
			}
			va.Content, vb.Content = nil, nil
		}
		if !reflect.DeepEqual(va, vb) {
			va.Content, vb.Content = va.Content[:min(len(va.Content), 80)], vb.Content[:min(len(vb.Content), 80)]
			return fmt.Sprintf("part %s:\n whole    %+v\n skeleton %+v", a.PartID, va, vb)
		}
		if d := diffParts(a.FirstChild, b.FirstChild, sizes); d != "" {
			return d
		}
	}
	return ""
}

type elisionCase struct {
	name string
	raw  []byte
	fast bool
}

// elisionCases are multipart messages of the shapes mail has: nested
// alternatives, attachments of every length modulo 4, quoted-printable
// and 8-bit text, legacy charsets, LF line ends, boundaries that are
// prefixes of each other or appear inside bodies, corrupt base64.
func elisionCases(r *rand.Rand) []elisionCase {
	words := strings.Fields("lorem ipsum dolor sit amet -- consectetur adipiscing élit naïve café = =3D ---- boundary")
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(10) == 0 {
				b.WriteString("\r\n")
			} else {
				b.WriteByte(' ')
			}
		}
		return b.String()
	}
	b64 := func(n int) string {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		var b strings.Builder
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
		return b.String()
	}
	qp := func(s string) string {
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		_, _ = w.Write([]byte(s))
		_ = w.Close()
		return b.String()
	}
	head := "From: a@example.com\r\nTo: b@example.com\r\nSubject: elision\r\nMIME-Version: 1.0\r\n"
	var out []elisionCase
	for n := 1000; n < 1012; n++ { // every length of attachment modulo 4 and 3
		raw := head + "Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\npreamble\r\n" +
			"--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text(1500) + "\r\n" +
			"--mix\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + b64(n) + "\r\n--mix--\r\nepilogue\r\n"
		out = append(out, elisionCase{fmt.Sprintf("attach%d", n), []byte(raw), true})
	}
	nested := head + "Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n" +
		"--=_b\r\nContent-Type: multipart/alternative; boundary=\"=_b_alt\"\r\n\r\n" +
		"--=_b_alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(text(3000)) + "\r\n" +
		"--=_b_alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp("<p>"+text(3000)+"</p>") + "\r\n" +
		"--=_b_alt--\r\n" +
		"--=_b\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n" +
		"--rel\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>caf\xe9 " + text(2000) + "</p>\r\n" +
		"--rel\r\nContent-Type: image/png\r\nContent-ID: <img1@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(3000) + "\r\n" +
		"--rel--\r\n" +
		"--=_b\r\nContent-Type: text/plain; charset=windows-1251; name=\"notes.txt\"\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(2000) + "\r\n" +
		"--=_b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@example.com\r\nSubject: inner\r\n\r\n" + text(2000) + "\r\n" +
		"--=_b--\r\n"
	out = append(out, elisionCase{"nested", []byte(nested), true})
	out = append(out, elisionCase{"nested-lf", []byte(strings.ReplaceAll(nested, "\r\n", "\n")), true})
	// Bodies ending in a blank line, as most generated mail's do.
	out = append(out, elisionCase{"trailing-newline", []byte(head + "Content-Type: multipart/alternative; boundary=\"t\"\r\n\r\n" +
		"--t\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text(1500) + "\r\n\r\n" +
		"--t\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>" + text(1500) + "</p>\r\n\r\n\r\n--t--\r\n"), true})
	// The attachment's body holds its own boundary mid-line: no elision of it, same tree.
	out = append(out, elisionCase{"boundary-in-body", []byte(head + "Content-Type: multipart/mixed; boundary=\"q\"\r\n\r\n" +
		"--q\r\nContent-Type: text/plain\r\n\r\n" + text(1200) + " x--q y\r\n" + text(1200) + "\r\n--q--\r\n"), false})
	// Corrupt base64 and junk: elided, with the same warnings.
	out = append(out, elisionCase{"corrupt-base64", []byte(head + "Content-Type: multipart/mixed; boundary=\"c\"\r\n\r\n" +
		"--c\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(900) + "!!*\x80\xc1 junk\r\n" + b64(500) + "\r\n--c--\r\n"), true})
	out = append(out, elisionCase{"utf16-text", []byte(head + "Content-Type: multipart/mixed; boundary=\"u\"\r\n\r\n" +
		"--u\r\nContent-Type: text/plain; charset=utf-16le\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(1500) + "\r\n--u--\r\n"), false})
	out = append(out, elisionCase{"unclosed", []byte(head + "Content-Type: multipart/mixed; boundary=\"open\"\r\n\r\n" +
		"--open\r\nContent-Type: text/plain\r\n\r\n" + text(1500) + "\r\n--open\r\nContent-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(2000)), false})
	return out
}

// mutateMIME damages raw near what matters to MIME parsing: boundaries,
// line breaks, header fields.
func mutateMIME(r *rand.Rand, raw []byte) []byte {
	b := bytes.Clone(raw)
	hot := [][]byte{[]byte("--"), []byte("\r\n"), []byte("\n"), []byte("Content-"), []byte("boundary"), []byte(":")}
	for range 1 + r.IntN(3) {
		if len(b) == 0 {
			break
		}
		h := hot[r.IntN(len(hot))]
		at := r.IntN(len(b))
		if k := bytes.Index(b[at:], h); k >= 0 {
			at += k
		}
		switch r.IntN(6) {
		case 0: // delete a few bytes
			b = append(b[:at], b[min(len(b), at+1+r.IntN(4)):]...)
		case 1: // insert a line break
			b = append(b[:at], append([]byte("\r\n"), b[at:]...)...)
		case 2: // insert a hot string
			b = append(b[:at], append(bytes.Clone(h), b[at:]...)...)
		case 3: // replace a byte
			b[at] = "-\r\n =:a\x00\xff"[r.IntN(9)]
		case 4: // duplicate a line
			s := bytes.LastIndexByte(b[:at], '\n') + 1
			e := bytes.IndexByte(b[at:], '\n')
			if e >= 0 {
				line := bytes.Clone(b[s : at+e+1])
				b = append(b[:s], append(line, b[s:]...)...)
			}
		default: // cut the message
			b = b[:at]
		}
	}
	return b
}
