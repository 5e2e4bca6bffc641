package store

import (
	"bytes"
	"regexp"
	"slices"
)

// boundaryParam finds multipart boundary parameters anywhere in a message.
// It may also find text that merely looks like one; closing a boundary that
// was never used only appends an epilogue line, which is harmless.
var boundaryParam = regexp.MustCompile(`(?i)\bboundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))`)

// unclosedBoundaries returns the boundaries declared in raw whose closing
// delimiter ("--" boundary "--") never appears, innermost (last declared)
// first.
func unclosedBoundaries(raw []byte) [][]byte {
	var open [][]byte
	seen := map[string]bool{}
	for _, m := range boundaryParam.FindAllSubmatch(raw, -1) {
		b := m[1]
		if b == nil {
			b = m[2]
		}
		if seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		closing := append(append([]byte("--"), b...), '-', '-')
		if !bytes.Contains(raw, closing) {
			open = append(open, b)
		}
	}
	slices.Reverse(open)
	return open
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
