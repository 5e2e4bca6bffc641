package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// boundaries are the multipart boundaries declared in a message.
type boundaries struct {
	declared [][]byte // distinct, in the order first declared (at most maxMultiparts+1)
	at       []int    // where each declared boundary's first parameter ends
	open     [][]byte // those whose closing delimiter never appears, innermost (last declared) first
	params   int      // boundary= parameters in all, repeats included: at least the multipart count
}

// findBoundaries scans raw once for what the unclosed-boundary finding,
// withClosed, the elision skeleton and the structure limits need.
// Declarations are found anywhere in the message (see boundaryParams); a
// closing delimiter for a boundary that was never used only appends an
// epilogue line, which is harmless. Past maxMultiparts distinct
// boundaries it only counts: the message is over the limits anyway (see
// checkLimits), and each boundary costs a scan of raw.
func findBoundaries(raw []byte) boundaries {
	var bs boundaries
	seen := map[string]bool{}
	boundaryParams(raw, func(b []byte, end int) {
		bs.params++
		if seen[string(b)] || len(bs.declared) > maxMultiparts {
			return
		}
		seen[string(b)] = true
		bs.declared = append(bs.declared, b)
		bs.at = append(bs.at, end)
		if !closedAfter(raw, b, end) {
			bs.open = append(bs.open, b)
		}
	})
	slices.Reverse(bs.open)
	return bs
}

// lastDelimiter returns the offset of the last line of raw that starts
// with "--" and boundary b, or -1.
func lastDelimiter(raw, b []byte) int {
	d := append([]byte("--"), b...)
	for end := len(raw); ; {
		k := bytes.LastIndex(raw[:end], d)
		if k <= 0 {
			return k // -1, or 0: the first line
		}
		if raw[k-1] == '\n' {
			return k
		}
		end = k
	}
}

// closedAfter reports whether the closing delimiter of boundary b,
// "--b--", starts a line somewhere after raw[:from]. One elsewhere (after
// a bare CR, in the middle of a line, before the declaration) closes
// nothing for enmime, and the unclosed nesting must still be repaired.
func closedAfter(raw, b []byte, from int) bool {
	closing := append(append([]byte("--"), b...), '-', '-')
	for i := from; i < len(raw); {
		k := bytes.Index(raw[i:], closing)
		if k < 0 {
			return false
		}
		if i += k; raw[i-1] == '\n' { // i > from >= 1: the declaration precedes
			return true
		}
		i++
	}
	return false
}

// Limits of the MIME structure enmime is given. Past them a message is
// still stored whole, but shown as one text part with a finding: enmime
// reads each part through one boundary reader per enclosing multipart,
// a byte at a time, so its time grows with depth × size (10,000 nested
// levels in 700 KB: a minute and 850 MB), the part tree of a deep
// message is deeper than encoding/json decodes (10,000), and every part
// costs some 100 µs and 10 KB (100,000 parts: over a minute and 1.7 GB).
const (
	maxMultiparts     = 250     // boundary= parameters, i.e. multipart entities (and so nesting depth)
	maxMultipartBytes = 1 << 31 // boundary= parameters × message size: 25 MiB allow 80
	maxParts          = 5000    // delimiter lines, i.e. body parts
	// maxOpenNested: unclosed boundaries that a delimiter line of an
	// earlier-declared boundary follows. withClosed closes unclosed
	// boundaries at the end of the message, which repairs nesting that
	// runs to the end; but where an outer delimiter follows them, enmime
	// meets them unclosed, and its time is exponential in their number
	// (31 KB corpus mutants with 77 and 175: for ever). 16 cost milliseconds.
	maxOpenNested = 16
)

// errMIMELimits is returned (wrapped) by checkLimits.
var errMIMELimits = errors.New("MIME structure over limits")

// checkLimits reports whether the structure bs describes in raw stays
// within maxMultiparts and maxParts. It counts the lines that start with
// "--" and a declared boundary: one scan of raw, with a prefix test per
// declared boundary only at lines starting with "--".
func checkLimits(raw []byte, bs *boundaries) error {
	if n := bs.params; n > maxMultiparts || int64(n)*int64(len(raw)) > maxMultipartBytes {
		return fmt.Errorf("%w: %d multipart boundaries declared in %d KiB, at most %d (fewer in a large message) are parsed",
			errMIMELimits, n, len(raw)>>10, min(maxMultiparts, max(1, maxMultipartBytes/max(1, len(raw)))))
	}
	if len(bs.open) > maxOpenNested {
		open := map[string]bool{}
		for _, b := range bs.open {
			open[string(b)] = true
		}
		latest, n := -1, 0 // the last delimiter line of the boundaries declared so far
		for i, b := range bs.declared {
			if open[string(b)] && latest > bs.at[i] {
				n++
			}
			latest = max(latest, lastDelimiter(raw, b))
		}
		if n > maxOpenNested {
			return fmt.Errorf("%w: %d unclosed multipart boundaries with outer delimiter lines after them, at most %d are parsed",
				errMIMELimits, n, maxOpenNested)
		}
	}
	parts := 0
	for i := 0; i < len(raw); {
		k := bytes.Index(raw[i:], []byte("\n--"))
		if k < 0 {
			break
		}
		i += k + 3
		for _, b := range bs.declared {
			if bytes.HasPrefix(raw[i:], b) {
				parts++
				break
			}
		}
	}
	if parts > maxParts {
		return fmt.Errorf("%w: %d multipart delimiter lines, at most %d parts are parsed", errMIMELimits, parts, maxParts)
	}
	return nil
}

// boundaryParams calls fn with the value of every boundary= parameter in
// raw, and the offset just after the parameter: the word "boundary" in any case, not preceded by a word character,
// optional white space, "=", optional white space, then a quoted value of
// 1–200 characters without quote or line break, or a token of 1–200
// characters up to white space, ";" or a quote; matches do not overlap.
// It finds the word with bytes.Index in a lower-cased copy of one window
// at a time: a regular expression with a case-insensitive literal cannot
// skip ahead and was nearly half of the CPU time of storing a 50 KB
// message, and a copy of the whole message would double a big one.
func boundaryParams(raw []byte, fn func(b []byte, end int)) {
	const word = "boundary"
	buf := make([]byte, min(len(raw), scanWindow+len(word)-1))
	next := 0 // where the next match may start
	for base := 0; base < len(raw); base += scanWindow {
		end := min(len(raw), base+scanWindow+len(word)-1) // a word starting in the window ends in it
		lower := asciiLowerInto(buf[:end-base], raw[base:end])
		for next < base+scanWindow {
			from := max(next, base)
			k := bytes.Index(lower[from-base:], []byte(word))
			if k < 0 {
				break
			}
			k += from
			if k >= base+scanWindow {
				break // starts in the next window, which finds it
			}
			var stop bool
			if next, stop = boundaryAt(raw, k, fn); stop {
				return
			}
		}
	}
}

// scanWindow is how much of a message boundaryParams lower-cases at once.
const scanWindow = 64 << 10

// boundaryAt parses a parameter at raw[k:], which starts with the word
// "boundary" in some case, calling fn with its value. It returns where the
// next match may start, and stop when none can follow.
func boundaryAt(raw []byte, k int, fn func(b []byte, end int)) (next int, stop bool) {
	next = k + 1
	if k > 0 && isWordByte(raw[k-1]) {
		return next, false
	}
	j := skipSpace(raw, k+len("boundary"))
	if j >= len(raw) || raw[j] != '=' {
		return next, false
	}
	j = skipSpace(raw, j+1)
	if j >= len(raw) {
		return next, true
	}
	// Lengths count characters (UTF-8 sequences, an invalid byte as one),
	// as the regular expression this replaced did.
	if raw[j] == '"' {
		end, n := j+1, 0
		for end < len(raw) && n <= 200 && raw[end] != '"' && raw[end] != '\r' && raw[end] != '\n' {
			_, size := utf8.DecodeRune(raw[end:])
			end, n = end+size, n+1
		}
		if end < len(raw) && raw[end] == '"' && n >= 1 && n <= 200 {
			fn(raw[j+1:end], end+1)
			return end + 1, false
		}
		return next, false
	}
	end, n := j, 0
	for end < len(raw) && n < 200 && !isSpaceByte(raw[end]) && raw[end] != ';' && raw[end] != '"' {
		_, size := utf8.DecodeRune(raw[end:])
		end, n = end+size, n+1
	}
	if end > j {
		fn(raw[j:end], end)
		return end, false
	}
	return next, false
}

// asciiLowerInto writes b with ASCII upper-case letters folded into dst
// (len(dst) == len(b)), byte for byte, and returns dst. Eight bytes at a
// time: a per-byte loop cost 4 ns a byte, a fifth of the time to store a
// 50 KB message.
func asciiLowerInto(dst, b []byte) []byte {
	out := dst[:len(b)]
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

// withClosed returns raw, or when some multipart boundaries are never
// closed (open, from findBoundaries), a copy with their closing delimiters
// appended (innermost first). enmime's time grows exponentially with the depth of unclosed
// nested multiparts (20 levels: half a second; 200: minutes), so a 1 KB
// hostile message could otherwise stall ingest; closed, the same nesting
// parses in milliseconds, and the part tree is the same either way. The
// stored bytes are never changed.
func withClosed(raw []byte, open [][]byte) []byte {
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
