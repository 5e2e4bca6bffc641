package smtpd

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDotReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string // content returned before EOF
		rest    string // what is left in the buffered reader
		wantErr error
	}{
		{"empty message", ".\r\n", "", "", nil},
		{"simple", "a\r\nb\r\n.\r\nNOOP\r\n", "a\r\nb\r\n", "NOOP\r\n", nil},
		{"stuffed dot", "..a\r\n.\r\n", ".a\r\n", "", nil},
		{"stuffed dot mid-message", "x\r\n..\r\n...\r\n.\r\n", "x\r\n.\r\n..\r\n", "", nil},
		{"dot not at line start", "a.b\r\n.\r\n", "a.b\r\n", "", nil},
		{"bare LF dot bare LF", "a\n.\nb\r\n.\r\n", "a\n.\nb\r\n", "", nil},
		{"bare CR dot bare CR", "a\r.\rb\r\n.\r\n", "a\r.\rb\r\n", "", nil},
		{"bare LF dot CRLF", "a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", "", nil},
		{"CRLF dot bare LF: stuffing removed", "a\r\n.\nb\r\n.\r\n", "a\r\n\nb\r\n", "", nil},
		{"CRLF dot bare CR", "a\r\n.\rb\r\n.\r\n", "a\r\n\rb\r\n", "", nil},
		{"CRLF dot CR CR", "a\r\n.\r\r\n.\r\n", "a\r\n\r\r\n", "", nil},
		{"lone CR before terminator", "a\r\r\n.\r\n", "a\r\r\n", "", nil},
		{"NUL and 8-bit", "\x00\xff\r\n.\r\n", "\x00\xff\r\n", "", nil},
		{"no terminator", "a\r\nb", "a\r\nb", "", io.ErrUnexpectedEOF},
		{"dot CR then EOF", "a\r\n.\r", "a\r\n", "", io.ErrUnexpectedEOF},
		{"long line", strings.Repeat("x", 5000) + "\r\n.\r\n", strings.Repeat("x", 5000) + "\r\n", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, oneByte := range []bool{false, true} {
				var src io.Reader = strings.NewReader(tt.in)
				if oneByte {
					src = iotest.OneByteReader(src)
				}
				br := bufio.NewReaderSize(src, 16)
				got, err := io.ReadAll(newDotReader(br))
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("oneByte=%v: err = %v, want %v", oneByte, err, tt.wantErr)
				}
				if string(got) != tt.want {
					t.Errorf("oneByte=%v: content = %q, want %q", oneByte, got, tt.want)
				}
				rest, _ := io.ReadAll(br)
				if string(rest) != tt.rest {
					t.Errorf("oneByte=%v: rest = %q, want %q", oneByte, rest, tt.rest)
				}
			}
		})
	}
}

// stuff is a reference dot-stuffer: it prefixes "." to every line
// (CRLF-delimited) that starts with "." and appends the terminator.
func stuff(content string) string {
	var b strings.Builder
	bol := true
	for i := 0; i < len(content); i++ {
		if bol && content[i] == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(content[i])
		bol = i > 0 && content[i-1] == '\r' && content[i] == '\n'
	}
	if !strings.HasSuffix(content, "\r\n") && content != "" {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.String()
}

func FuzzDotReader(f *testing.F) {
	for _, s := range []string{"", "a", ".", "..", "\r\n.\r\n", "a\n.\nb", "a\r.\r", "\r\n.\n", ".\r", "x\r\n.\rx", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content string) {
		// Round trip: stuffing then reading gives the content back
		// (plus the CRLF the stuffer adds to an unterminated last line).
		want := content
		if want != "" && !strings.HasSuffix(want, "\r\n") {
			want += "\r\n"
		}
		br := bufio.NewReaderSize(strings.NewReader(stuff(content)+"NEXT"), 16)
		got, err := io.ReadAll(newDotReader(br))
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if string(got) != want {
			t.Fatalf("round trip = %q, want %q", got, want)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
			t.Fatalf("rest = %q, want NEXT", rest)
		}
		// Arbitrary input never panics and never returns more than it read.
		br = bufio.NewReaderSize(strings.NewReader(content), 16)
		raw, _ := io.ReadAll(newDotReader(br))
		if len(raw) > len(content) {
			t.Fatalf("output longer than input")
		}
	})
}

// FuzzDotReaderBulk checks that the bulk copy inside lines does not depend
// on how the input arrives: a source that yields one byte per read leaves
// at most one octet buffered, so every run is cut at every octet.
func FuzzDotReaderBulk(f *testing.F) {
	for _, s := range []string{"abc\r\n.\r\nrest", "..x\r\n.y\r\n.\r\n", "a\rb\r\r\n.\r.\r\n.\r\n", ".\r\r\n.\r\n", "\r\n\r\n.", "long line without end"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, in string, chunk uint8) {
		read := func(src io.Reader) (string, error, string) {
			br := bufio.NewReaderSize(src, 16)
			d := newDotReader(br)
			var out []byte
			p := make([]byte, int(chunk)%40+1)
			var err error
			for {
				var n int
				n, err = d.Read(p)
				out = append(out, p[:n]...)
				if err != nil {
					break
				}
			}
			rest, _ := io.ReadAll(br)
			return string(out), err, string(rest)
		}
		gotOut, gotErr, gotRest := read(strings.NewReader(in))
		wantOut, wantErr, wantRest := read(iotest.OneByteReader(strings.NewReader(in)))
		if gotOut != wantOut || gotErr != wantErr || gotRest != wantRest {
			t.Fatalf("bulk = %q, %v, rest %q; octet by octet = %q, %v, rest %q", gotOut, gotErr, gotRest, wantOut, wantErr, wantRest)
		}
	})
}
