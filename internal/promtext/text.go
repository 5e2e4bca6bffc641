package promtext

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
)

// ContentType is the media type of the text format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes every family to w in the text format. Collectors that
// fail are left out; their errors (each a *CollectError) are returned,
// joined with a write error if there is one, after the rest was written.
func (r *Registry) WriteText(ctx context.Context, w io.Writer) error {
	snap, errs := r.gather(ctx)
	if err := writeText(w, snap); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// writeText writes a gathered snapshot. Families come sorted by name and
// series by label values, so two scrapes of the same state are byte for
// byte the same.
func writeText(w io.Writer, snap []familySnapshot) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	var num []byte // scratch for numbers
	sample := func(name, suffix, labels, extraName, extraValue string, v float64) {
		bw.WriteString(name)
		bw.WriteString(suffix)
		if labels != "" || extraName != "" {
			bw.WriteByte('{')
			bw.WriteString(labels)
			if extraName != "" {
				if labels != "" {
					bw.WriteByte(',')
				}
				bw.WriteString(extraName)
				bw.WriteString(`="`)
				bw.WriteString(extraValue)
				bw.WriteByte('"')
			}
			bw.WriteByte('}')
		}
		bw.WriteByte(' ')
		num = appendFloat(num[:0], v)
		bw.Write(num)
		bw.WriteByte('\n')
	}
	for _, f := range snap {
		if f.help != "" {
			bw.WriteString("# HELP ")
			bw.WriteString(f.name)
			bw.WriteByte(' ')
			writeEscaped(bw, f.help, false)
			bw.WriteByte('\n')
		}
		bw.WriteString("# TYPE ")
		bw.WriteString(f.name)
		bw.WriteByte(' ')
		bw.WriteString(f.kind.String())
		bw.WriteByte('\n')
		for _, s := range f.series {
			switch f.kind {
			case KindHistogram:
				for i, le := range s.bounds {
					sample(f.name, "_bucket", s.labels, "le", le, float64(s.buckets[i]))
				}
				sample(f.name, "_bucket", s.labels, "le", "+Inf", float64(s.count))
				sample(f.name, "_sum", s.labels, "", "", s.value)
				sample(f.name, "_count", s.labels, "", "", float64(s.count))
			case KindSummary:
				for _, q := range s.quantiles {
					sample(f.name, "", s.labels, "quantile", formatFloat(q.Quantile), q.Value)
				}
				sample(f.name, "_sum", s.labels, "", "", s.value)
				sample(f.name, "_count", s.labels, "", "", float64(s.count))
			default:
				sample(f.name, "", s.labels, "", "", s.value)
			}
		}
	}
	// bufio keeps the first write error and returns it from every later
	// call, so checking once here covers every line.
	return bw.Flush()
}

// appendFloat formats v as client_golang does: the shortest 'g' form
// that reads back the same, and +Inf, -Inf, NaN as the format spells them.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case v == 0:
		return append(b, '0') // -0 too
	case v == 1:
		return append(b, '1')
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func formatFloat(v float64) string { return string(appendFloat(nil, v)) }

// writeEscaped writes s escaped for a HELP line (backslash, newline) or,
// with quote, a label value (double quote too).
func writeEscaped(w io.StringWriter, s string, quote bool) {
	special := "\\\n"
	if quote {
		special = "\\\n\""
	}
	for {
		i := strings.IndexAny(s, special)
		if i < 0 {
			w.WriteString(s)
			return
		}
		w.WriteString(s[:i])
		switch s[i] {
		case '\\':
			w.WriteString(`\\`)
		case '\n':
			w.WriteString(`\n`)
		case '"':
			w.WriteString(`\"`)
		}
		s = s[i+1:]
	}
}
