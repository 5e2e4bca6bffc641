package store

import (
	"bytes"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// partFileName returns the decoded file name of p. enmime's FileName is
// used when it looks clean; when it is empty or still shows quoting or
// encoded words (a folded or otherwise malformed parameter), or enmime
// dropped an RFC 2231 value in a charset other than UTF-8/ASCII, the
// parameters are parsed again leniently here.
func partFileName(p *enmime.Part) string {
	name := p.FileName
	if name == "" || strings.ContainsAny(name, `";`) || strings.Contains(name, "=?") {
		for _, h := range []struct{ header, param string }{
			{"Content-Disposition", "filename"},
			{"Content-Type", "name"},
		} {
			if v := paramValue(p.Header.Get(h.header), h.param); v != "" {
				name = v
				break
			}
		}
	}
	return strings.ToValidUTF8(name, "\uFFFD")
}

// paramValue finds parameter key in a Content-Type/Content-Disposition
// value and decodes it: RFC 2231 (key*=charset'lang'%xx, continuations
// key*0, key*1*, … in any charset x/text knows) and RFC 2047 encoded words
// inside a plain value. White space around "=" is tolerated.
func paramValue(v, key string) string {
	params := splitParams(v)
	if plain, ok := params[key]; ok && plain.value != "" {
		if p, ok := params[key+"*"]; !ok || p.value == "" {
			return DecodeHeader(plain.value)
		}
	}
	if ext, ok := params[key+"*"]; ok {
		return decode2231(ext.value, true)
	}
	// Continuations: key*0, key*0*, key*1 …
	type piece struct {
		n       int
		value   string
		encoded bool
	}
	var pieces []piece
	for k, p := range params {
		rest, ok := strings.CutPrefix(k, key+"*")
		if !ok || rest == "" {
			continue
		}
		enc := strings.HasSuffix(rest, "*")
		n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
		if err != nil {
			continue
		}
		pieces = append(pieces, piece{n, p.value, enc})
	}
	if len(pieces) == 0 {
		if plain, ok := params[key]; ok {
			return DecodeHeader(plain.value)
		}
		return ""
	}
	sort.Slice(pieces, func(i, j int) bool { return pieces[i].n < pieces[j].n })
	charset := ""
	var buf bytes.Buffer
	for i, pc := range pieces {
		val := pc.value
		if pc.encoded {
			if i == 0 {
				if cs, rest, ok := strings.Cut(val, "'"); ok {
					if _, rest2, ok := strings.Cut(rest, "'"); ok {
						charset, val = cs, rest2
					}
				}
			}
			if u, err := url.PathUnescape(val); err == nil {
				val = u
			}
		}
		buf.WriteString(val)
	}
	return DecodeHeader(toCharset(charset, buf.Bytes()))
}

// decode2231 decodes charset'lang'percent-encoded.
func decode2231(v string, withCharset bool) string {
	charset := ""
	if withCharset {
		if cs, rest, ok := strings.Cut(v, "'"); ok {
			if _, rest2, ok := strings.Cut(rest, "'"); ok {
				charset, v = cs, rest2
			}
		}
	}
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	return toCharset(charset, []byte(v))
}

// toCharset converts b from charset (""/us-ascii/utf-8: as is) to UTF-8.
func toCharset(charset string, b []byte) string {
	switch strings.ToLower(charset) {
	case "", "us-ascii", "utf-8", "utf8":
		return string(b)
	}
	r, err := charsetReader(charset, bytes.NewReader(b))
	if err != nil {
		return string(b)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return string(b)
	}
	return string(out)
}

type param struct{ value string }

// splitParams splits the parameters of a header value (after the first
// ";") into lower-case key → unquoted value, tolerating white space and
// line breaks around "=" and unquoted values with spaces.
func splitParams(v string) map[string]param {
	out := map[string]param{}
	_, rest, ok := strings.Cut(v, ";")
	if !ok {
		return out
	}
	for rest != "" {
		var part string
		inQuote := false
		i := 0
		for ; i < len(rest); i++ {
			c := rest[i]
			if c == '\\' && inQuote {
				i++
				continue
			}
			if c == '"' {
				inQuote = !inQuote
			}
			if c == ';' && !inQuote {
				break
			}
		}
		if i >= len(rest) {
			part, rest = rest, ""
		} else {
			part, rest = rest[:i], rest[i+1:]
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = strings.ReplaceAll(val[1:len(val)-1], `\"`, `"`)
		} else {
			val = strings.Trim(val, `"`)
		}
		if _, dup := out[k]; !dup {
			out[k] = param{value: val}
		}
	}
	return out
}
