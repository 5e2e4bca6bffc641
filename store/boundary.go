package store

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// unclosedBoundaries returns the boundaries declared in raw whose closing
// delimiter ("--" boundary "--") never appears, innermost (last declared)
// first. Declarations are found anywhere in the message (see
// boundaryParams); a closing delimiter for a boundary that was never used
// only appends an epilogue line, which is harmless.
func unclosedBoundaries(raw []byte) [][]byte {
	var open [][]byte
	seen := map[string]bool{}
	boundaryParams(raw, func(b []byte) {
		if seen[string(b)] {
			return
		}
		seen[string(b)] = true
		closing := append(append([]byte("--"), b...), '-', '-')
		if !bytes.Contains(raw, closing) {
			open = append(open, b)
		}
	})
	slices.Reverse(open)
	return open
}

// boundaryParams calls fn with the value of every boundary= parameter in
// raw: the word "boundary" in any case, not preceded by a word character,
// optional white space, "=", optional white space, then a quoted value of
// 1–200 characters without quote or line break, or a token of 1–200
// characters up to white space, ";" or a quote. It scans a lower-cased copy
// with bytes.Index: a regular expression with a case-insensitive literal
// cannot skip ahead and was nearly half of the CPU time of storing a
// 50 KB message.
func boundaryParams(raw []byte, fn func(b []byte)) {
	lower := asciiLower(raw) // byte for byte, so offsets match raw; the word is ASCII
	const word = "boundary"
	for i := 0; ; {
		k := bytes.Index(lower[i:], []byte(word))
		if k < 0 {
			return
		}
		k += i
		i = k + 1
		if k > 0 && isWordByte(raw[k-1]) {
			continue
		}
		j := skipSpace(raw, k+len(word))
		if j >= len(raw) || raw[j] != '=' {
			continue
		}
		j = skipSpace(raw, j+1)
		if j >= len(raw) {
			return
		}
		if raw[j] == '"' {
			end := j + 1
			for end < len(raw) && end-j-1 <= 200 && raw[end] != '"' && raw[end] != '\r' && raw[end] != '\n' {
				end++
			}
			if end < len(raw) && raw[end] == '"' && end > j+1 && end-j-1 <= 200 {
				fn(raw[j+1 : end])
				i = end + 1 // matches do not overlap
			}
			continue
		}
		end := j
		for end < len(raw) && end-j < 200 && !isSpaceByte(raw[end]) && raw[end] != ';' && raw[end] != '"' {
			end++
		}
		if end > j {
			fn(raw[j:end])
			i = end
		}
	}
}

// asciiLower returns a copy of b with ASCII upper-case letters folded,
// byte for byte (offsets match b). Eight bytes at a time: a per-byte loop
// cost 4 ns a byte, a fifth of the time to store a 50 KB message.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	const ones = 0x0101010101010101
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		low7 := x & (0x7f * ones)
		geA := low7 + (0x80-'A')*ones            // high bit set where the byte is ≥ 'A'
		gtZ := low7 + (0x80-'Z'-1)*ones          // … where it is > 'Z'
		upper := geA &^ gtZ &^ x & (0x80 * ones) // ASCII (high bit clear) and in 'A'..'Z'
		binary.LittleEndian.PutUint64(out[i:], x|upper>>2)
	}
	for ; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// isWordByte is regexp's \w: ASCII letters, digits and underscore.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// isSpaceByte is regexp's \s: tab, newline, form feed, carriage return, space.
func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpaceByte(b[i]) {
		i++
	}
	return i
}

// withClosedBoundaries returns raw, or when some multipart boundaries are
// never closed, a copy with their closing delimiters appended (innermost
// first). enmime's time grows exponentially with the depth of unclosed
// nested multiparts (20 levels: half a second; 200: minutes), so a 1 KB
// hostile message could otherwise stall ingest; closed, the same nesting
// parses in milliseconds, and the part tree is the same either way. The
// stored bytes are never changed.
func withClosedBoundaries(raw []byte) []byte {
	open := unclosedBoundaries(raw)
	if len(open) == 0 {
		return raw
	}
	out := make([]byte, 0, len(raw)+len(open)*80)
	out = append(out, raw...)
	for _, b := range open {
		out = append(out, "\r\n--"...)
		out = append(out, b...)
		out = append(out, "--\r\n"...)
	}
	return out
}
