package store

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/jhillyerd/enmime/v2"
)

// Leaf elision: the fast way to parse a multipart message with enmime.
//
// enmime reads a multipart message through one boundary reader per
// enclosing multipart, and each reader moves its input a byte at a time
// (about 10 ns a byte a level): three quarters of the CPU time of storing
// a 50 KB message with an attachment. A single-part message has no
// boundary reader. So readParts hands enmime a skeleton of the message in
// which the body of each large leaf part is replaced by a short marker,
// parses each of those leaves alone as a single-part message, and puts the
// leaves into the skeleton's tree in place of the parts holding the
// markers. The result is the tree enmime builds from the whole message,
// and checks prove it (see readPartsElided); when one fails, the message
// is parsed whole.

// Elision limits.
const (
	minElide      = 1024 // a body this long is worth a second parse
	maxElideBound = 16   // declared boundaries; more (hostile) → parse whole
	maxLeafHeader = 8 << 10
)

// elision is one leaf whose body the skeleton replaces.
type elision struct {
	leaf   []byte // the part as enmime would read it: header, blank line, body
	body   []byte // the body alone: a suffix of leaf
	marker []byte // the content enmime must decode from the skeleton's body
	rest   []byte // what follows the body: the line break of a delimiter line
	cte    string // Content-Transfer-Encoding, lower case
}

// elider builds skeletons. Its markers carry a random nonce, so that no
// real part's content can be mistaken for one.
type elider struct {
	prefix []byte // "mailsink" + nonce: every marker starts with it
	min    int    // shortest body elided: minElide (tests go lower)
}

func newElider() elider {
	var n [8]byte
	_, _ = rand.Read(n[:]) // crypto/rand.Read never fails
	return elider{prefix: []byte("mailsinkelided" + hex.EncodeToString(n[:])), min: minElide}
}

// marker returns the decoded content marking elision i: ASCII letters and
// digits only (so quoted-printable and every ASCII-compatible charset leave
// it as it is), a multiple of 3 bytes long (so its base64 has no padding).
func (el elider) marker(i int) []byte {
	m := append(slices.Clone(el.prefix), fmt.Sprintf("x%08d", i)...)
	for len(m)%3 != 0 {
		m = append(m, 'x')
	}
	return m
}

// skeleton returns raw with the bodies of its large leaf parts replaced by
// markers, and what it replaced; nil when there is nothing worth eliding.
// It finds parts by the delimiter lines of the boundaries declared in raw
// (findBoundaries). It only needs to be right in the common case: the
// checks in readPartsElided catch the rest.
//
// A leaf qualifies when its header block has CRLF line ends or LF ones
// throughout, no boundary
// parameter, a Content-Type field and a Content-Transfer-Encoding that is
// absent or one of base64, quoted-printable, 7bit, 8bit, binary; its body
// is at least el.min bytes, does not end in CR (a reader would stop
// before it at a CR CR LF delimiter), and contains
// no "--" followed by any declared boundary, so no boundary reader could
// stop inside it.
func (el elider) skeleton(raw []byte, declared [][]byte) ([]byte, []elision) {
	if len(declared) == 0 || len(declared) > maxElideBound {
		return nil, nil
	}
	bounds := make([][]byte, len(declared))
	for i, b := range declared {
		bounds[i] = append([]byte("--"), b...)
	}
	// Every occurrence of "--"+boundary, in order: delimiter lines and any
	// that are not (which end the body before them as surely).
	type mark struct{ at, n int } // raw[at:at+n] is "--" and a boundary
	var marks []mark
	for _, d := range bounds {
		for i := 0; ; {
			k := bytes.Index(raw[i:], d)
			if k < 0 {
				break
			}
			marks = append(marks, mark{i + k, len(d)})
			i += k + len(d)
		}
	}
	if len(marks) < 2 {
		return nil, nil
	}
	// By position; of boundaries one of which is a prefix of another, the
	// longest match is the delimiter.
	slices.SortFunc(marks, func(a, b mark) int { return cmp.Or(a.at-b.at, b.n-a.n) })
	marks = slices.CompactFunc(marks, func(a, b mark) bool { return a.at == b.at })

	var (
		skel []byte
		els  []elision
		done int // raw[:done] is in skel
	)
	for j, mk := range marks[:len(marks)-1] {
		at := mk.at
		if at > 0 && raw[at-1] != '\n' || bytes.HasPrefix(raw[at+mk.n:], []byte("--")) {
			continue // not a delimiter line, or the closing one
		}
		eol := bytes.IndexByte(raw[at:], '\n')
		if eol < 0 {
			break
		}
		hdr := at + eol + 1
		next := marks[j+1].at
		if next <= hdr || raw[next-1] != '\n' {
			continue
		}
		bodyStart, cte, ok := leafHeader(raw[hdr:next])
		if !ok {
			continue
		}
		bodyStart += hdr
		end := next - 1 // the line break before the next delimiter
		if end > bodyStart && raw[end-1] == '\r' {
			end--
		}
		if end-bodyStart < el.min || raw[end-1] == '\r' {
			continue
		}
		m := el.marker(len(els))
		els = append(els, elision{leaf: raw[hdr:end], body: raw[bodyStart:end], marker: m, rest: raw[end:], cte: cte})
		skel = append(skel, raw[done:bodyStart]...)
		if cte == "base64" {
			skel = base64.StdEncoding.AppendEncode(skel, m)
		} else {
			skel = append(skel, m...)
		}
		done = end
	}
	if len(els) == 0 {
		return nil, nil
	}
	return append(skel, raw[done:]...), els
}

// leafHeader reads the header block at the start of part. It returns
// where the body starts, the Content-Transfer-Encoding (lower case), and
// whether the part may be elided (see skeleton).
func leafHeader(part []byte) (bodyStart int, cte string, ok bool) {
	nl := []byte("\r\n")
	if i := bytes.IndexByte(part, '\n'); i >= 0 && (i == 0 || part[i-1] != '\r') {
		nl = nl[1:] // bare LF line ends throughout
	}
	end := bytes.Index(part, append(slices.Clone(nl), nl...))
	if end < 0 || end > maxLeafHeader {
		return 0, "", false
	}
	hdr := part[:end+len(nl)]
	if lines := bytes.Count(hdr, nl); bytes.Count(hdr, []byte("\n")) != lines ||
		bytes.Count(hdr, []byte("\r")) != lines*(len(nl)-1) {
		return 0, "", false // mixed line ends
	}
	lower := bytes.ToLower(hdr)
	if bytes.Contains(lower, []byte("boundary")) || lower[0] == ' ' || lower[0] == '\t' {
		return 0, "", false
	}
	var ctype bool
	for line := range bytes.Lines(lower) {
		switch {
		case bytes.HasPrefix(line, []byte("content-type:")):
			ctype = true
		case bytes.HasPrefix(line, []byte("content-transfer-encoding:")):
			if cte != "" {
				return 0, "", false
			}
			cte = string(bytes.TrimSpace(line[len("content-transfer-encoding:"):]))
			switch cte {
			case "base64", "quoted-printable", "7bit", "8bit", "binary":
			default:
				return 0, "", false
			}
		}
	}
	return end + 2*len(nl), cte, ctype
}

// readPartsElided parses raw, which declares the boundaries declared,
// through a skeleton (see skeleton). ok is
// false when raw has nothing worth eliding or when a check fails; the
// caller then parses raw whole. The checks:
//
//   - every marker is the whole content of exactly one leaf of the
//     skeleton's tree, and the body it replaces is followed by a line
//     break and a delimiter line of that leaf's parent, where the parent's
//     boundary reader stops: so each elided body was one leaf's whole body;
//   - no elided body contains "--" and a boundary of any multipart of the
//     tree, so no boundary reader would have stopped inside it;
//   - the skeleton's tree is well formed (see cleanSkeletonPart): enmime's
//     reading of a malformed one can depend on how its reads fall on the
//     bytes, which elision changes;
//   - each leaf, parsed alone, is a leaf with the same content type, and
//     not an empty one (enmime's warning about that names the part).
//
// With a non-nil sizes, an elided base64 body of a part that is not text
// is not decoded at all when it is clean (see base64Len): the leaf is
// parsed with an empty body and its decoded size goes into sizes. Only
// text parts' content is used when a message is stored, and decoding a
// 20 MB attachment there cost its size twice over in memory.
func (db *DB) readPartsElided(raw []byte, declared [][]byte, sizes map[*enmime.Part]int64) (root *enmime.Part, ok bool) {
	skel, els := db.elider.skeleton(raw, declared)
	if els == nil {
		return nil, false
	}
	root, err := db.parser.ReadParts(bytes.NewReader(skel))
	if err != nil {
		return nil, false // let the whole parse report it
	}
	holders := make([]*enmime.Part, len(els))
	for p := range walkParts(root) {
		if !cleanSkeletonPart(p) {
			return nil, false
		}
		if p.Boundary != "" {
			d := []byte("--" + p.Boundary)
			for _, e := range els {
				if bytes.Contains(e.body, d) {
					return nil, false
				}
			}
		}
		if p.FirstChild != nil || len(p.Content) <= len(db.elider.prefix) || !bytes.HasPrefix(p.Content, db.elider.prefix) {
			continue
		}
		i, perr := strconv.Atoi(string(bytes.TrimRight(p.Content[len(db.elider.prefix)+1:], "x")))
		if perr != nil || i < 0 || i >= len(els) || holders[i] != nil || !bytes.Equal(p.Content, els[i].marker) {
			return nil, false
		}
		holders[i] = p
	}
	for i, e := range els {
		k := holders[i]
		if k == nil || k.Parent == nil || !endsAtDelimiter(e.rest, k.Parent.Boundary) {
			return nil, false
		}
		src, size := e.leaf, int64(-1)
		if sizes != nil && e.cte == "base64" && !strings.HasPrefix(k.ContentType, "text/") {
			if n, ok := base64Len(e.body); ok {
				src, size = e.leaf[:len(e.leaf)-len(e.body)], n
			}
		}
		leaf, err := db.parser.ReadParts(bytes.NewReader(src))
		if err != nil || leaf.FirstChild != nil || leaf.Boundary != "" ||
			leaf.ContentType == "" || leaf.ContentType != k.ContentType {
			return nil, false
		}
		id, parent, next := k.PartID, k.Parent, k.NextSibling
		*k = *leaf
		k.PartID, k.Parent, k.NextSibling = id, parent, next
		if size >= 0 {
			sizes[k] = size
		}
	}
	return root, true
}

// endsAtDelimiter reports whether rest starts with a line break and then
// a delimiter or the closing delimiter of boundary: where enmime's
// boundary reader for it stops (it wants white space after a delimiter).
func endsAtDelimiter(rest []byte, boundary string) bool {
	rest, ok := bytes.CutPrefix(rest, []byte("\r\n"))
	if !ok {
		if rest, ok = bytes.CutPrefix(rest, []byte("\n")); !ok {
			return false
		}
	}
	rest, ok = bytes.CutPrefix(rest, []byte("--"+boundary))
	if !ok || len(rest) == 0 {
		return false
	}
	return bytes.HasPrefix(rest, []byte("--")) || unicode.IsSpace(rune(rest[0]))
}

// cleanSkeletonPart reports whether p, a part of a skeleton's tree, is of
// a well-formed message: no parse errors or warnings, a boundary exactly
// when it is a multipart, and nothing but white space after the closing
// delimiter of a nested multipart.
func cleanSkeletonPart(p *enmime.Part) bool {
	if len(p.Errors) > 0 || (p.Boundary != "") != strings.HasPrefix(p.ContentType, "multipart/") {
		return false
	}
	return p.Parent == nil || len(bytes.Trim(p.Epilogue, " \t\r\n")) == 0
}

// base64Len returns the length of what enmime decodes from body, a base64
// part's content, when enmime would decode it without a warning or an
// error: body holds only base64 letters, '=' and white space (which
// enmime's cleaner drops silently), and the letters do not leave a
// single one over (an error).
func base64Len(body []byte) (int64, bool) {
	var n int64
	for _, c := range body {
		switch base64Class[c] {
		case b64Letter:
			n++
		case b64Invalid:
			return 0, false
		}
	}
	if n%4 == 1 {
		return 0, false
	}
	return n/4*3 + [4]int64{0, 0, 1, 2}[n%4], true
}

// Classes of base64Class: base64Len reads every byte of every attachment,
// and a table lookup is cheaper than comparing ranges.
const (
	b64Invalid = iota
	b64Letter
	b64Skipped // '=' and white space: enmime's cleaner drops them silently
)

var base64Class = func() (t [256]uint8) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = b64Letter
	}
	for _, c := range []byte("=\r\n \t") {
		t[c] = b64Skipped
	}
	return t
}()
