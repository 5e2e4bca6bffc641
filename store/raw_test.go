package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"mailsink/store"
)

// openFile opens a second connection pool on the store's file, to look at
// and tamper with raw rows the way no API does.
func openFile(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	conn, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() }) // read-mostly test handle
	return conn
}

// rawRow returns the codec and stored length of message id's raw row.
func rawRow(tb testing.TB, conn *sql.DB, id string) (codec, stored int) {
	tb.Helper()
	err := conn.QueryRow(`SELECT r.codec, length(r.data) FROM messages m JOIN raw r ON r.seq = m.seq
		WHERE m.id = ?`, id).Scan(&codec, &stored)
	if err != nil {
		tb.Fatalf("raw row of %s: %v", id, err)
	}
	return codec, stored
}

// incompressible is a message whose body is random binary, e.g. a zip
// sent with BINARYMIME.
func incompressible() []byte {
	return append([]byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: zip\r\n"+
		"Content-Type: application/zip\r\nContent-Transfer-Encoding: binary\r\n\r\n"),
		newMailGen(7).randomBytes(16<<10)...)
}

// TestRawRoundTrip inserts every fixture, every corpus message (when the
// corpus is present) and generated messages, and checks that Raw gives back
// exactly what was inserted, that each row has the codec compressRaw
// picks, and that compressed rows are at most 90% of the message.
func TestRawRoundTrip(t *testing.T) {
	t.Parallel()
	type sample struct {
		name string
		raw  []byte
	}
	var samples []sample
	for _, path := range fixtures(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, sample{"fixture/" + filepath.Base(path), raw})
	}
	g := newMailGen(1)
	for i := range 3 {
		samples = append(samples,
			sample{"gen/text-" + string(rune('a'+i)), g.text(i, 2048)},
			sample{"gen/text8k-" + string(rune('a'+i)), g.text(i, 8192)},
			sample{"gen/multipart-" + string(rune('a'+i)), g.multipart(i, 50_000)})
	}
	big := g.multipart(9, 3<<20) // several zstd blocks, beyond one window
	samples = append(samples,
		sample{"gen/multipart-3MiB", big},
		sample{"gen/incompressible", incompressible()},
		sample{"gen/empty", []byte{}},
		sample{"gen/4095", bytes.Repeat([]byte("a"), 4095)},
		sample{"gen/4096", bytes.Repeat([]byte("a"), 4096)},
	)

	db := newTestDB(t, store.Options{})
	conn := openFile(t, db.path)
	ctx := context.Background()
	check := func(t *testing.T, name string, raw []byte) (codec int) {
		t.Helper()
		if _, err := db.Insert(ctx, name, store.Envelope{}, raw); err != nil {
			t.Fatalf("%s: Insert: %v", name, err)
		}
		got, err := db.Raw(ctx, name)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s: Raw = %d bytes, %v; want the %d bytes inserted", name, len(got), err, len(raw))
		}
		if _, _, err := db.Part(ctx, name, "0"); err != nil {
			t.Errorf("%s: Part(0): %v", name, err)
		}
		codec, stored := rawRow(t, conn, name)
		_, want := store.CompressRaw(raw)
		switch {
		case codec != want:
			t.Errorf("%s: codec %d, want %d", name, codec, want)
		case codec == store.CodecPlain && stored != len(raw):
			t.Errorf("%s: plain row holds %d bytes, want %d", name, stored, len(raw))
		case codec == store.CodecZstd && stored*10 > len(raw)*9:
			t.Errorf("%s: compressed row holds %d bytes of %d: more than 90%%", name, stored, len(raw))
		}
		return codec
	}
	var n [2]int
	for _, s := range samples {
		n[check(t, s.name, s.raw)]++
	}
	if n[store.CodecPlain] == 0 || n[store.CodecZstd] == 0 {
		t.Errorf("rows plain/compressed = %v; the samples should give both", n)
	}
	for name, want := range map[string]int{
		"gen/text-a": store.CodecPlain, "gen/text8k-a": store.CodecZstd, "gen/multipart-a": store.CodecZstd,
		"gen/multipart-3MiB": store.CodecZstd, "gen/incompressible": store.CodecPlain, "gen/empty": store.CodecPlain,
		"gen/4095": store.CodecPlain, "gen/4096": store.CodecZstd,
	} {
		if codec, _ := rawRow(t, conn, name); codec != want {
			t.Errorf("%s: codec %d, want %d", name, codec, want)
		}
	}

	t.Run("corpus", func(t *testing.T) {
		for name := range corpus(t) { // skips when the corpus is absent
			raw, err := os.ReadFile(filepath.Join(corpusDir, name))
			if err != nil {
				t.Fatal(err)
			}
			check(t, "corpus/"+name, raw)
		}
	})
}

// TestRawIncompressibleStaysPlain: a message zstd cannot shrink by 10%,
// and one under 1 KiB, are stored as they are, without a copy.
func TestRawIncompressibleStaysPlain(t *testing.T) {
	t.Parallel()
	for _, raw := range [][]byte{incompressible(), []byte(strings.Repeat("tiny ", 200))} {
		data, codec := store.CompressRaw(raw)
		if codec != store.CodecPlain || len(data) != len(raw) || &data[0] != &raw[0] {
			t.Errorf("CompressRaw(%d bytes) = %d bytes, codec %d; want raw itself, plain", len(raw), len(data), codec)
		}
	}
}

// TestRawCorrupt: a damaged or hostile compressed row makes Raw, Part and
// PartContents fail with an error (not ErrNotFound, not a panic, and no
// allocation beyond the message's size); restored, it reads again.
func TestRawCorrupt(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, store.Options{})
	conn := openFile(t, db.path)
	ctx := context.Background()
	raw := newMailGen(3).multipart(1, 50_000)
	insert(t, db, "z", raw)
	if codec, _ := rawRow(t, conn, "z"); codec != store.CodecZstd {
		t.Fatalf("codec %d, want compressed", codec)
	}
	var data []byte
	var size int64
	if err := conn.QueryRow(`SELECT r.data, m.size FROM messages m JOIN raw r ON r.seq = m.seq WHERE m.id = 'z'`).
		Scan(&data, &size); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x20
	bomb, _ := store.CompressRaw(make([]byte, 32<<20)) // 32 MiB of zeros in a few KiB

	set := func(t *testing.T, data []byte, codec int, size int64) {
		t.Helper()
		if _, err := conn.Exec(`UPDATE raw SET data = ?, codec = ? WHERE seq = (SELECT seq FROM messages WHERE id = 'z')`,
			data, codec); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(`UPDATE messages SET size = ? WHERE id = 'z'`, size); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name  string
		data  []byte
		codec int
		size  int64
	}{
		{"flipped byte", flipped, store.CodecZstd, size},
		{"truncated", data[:len(data)/2], store.CodecZstd, size},
		{"checksum cut off", data[:len(data)-4], store.CodecZstd, size},
		{"empty", []byte{}, store.CodecZstd, size},
		{"not zstd", raw[:len(data)], store.CodecZstd, size},
		{"size too small", data, store.CodecZstd, size - 1},
		{"size too large", data, store.CodecZstd, size + 1},
		{"size huge", data, store.CodecZstd, 1 << 40},
		{"size negative", data, store.CodecZstd, -1},
		{"bomb", bomb, store.CodecZstd, size},
		{"unknown codec", data, 7, size},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set(t, tt.data, tt.codec, tt.size)
			if got, err := db.Raw(ctx, "z"); err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("Raw = %d bytes, %v; want a corruption error", len(got), err)
			}
			if _, _, err := db.Part(ctx, "z", "2"); err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("Part = %v; want a corruption error", err)
			}
			if _, err := db.PartContents(ctx, "z", []string{"2"}); err == nil {
				t.Error("PartContents: no error")
			}
		})
	}
	set(t, data, store.CodecZstd, size)
	if got, err := db.Raw(ctx, "z"); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("restored: Raw = %d bytes, %v", len(got), err)
	}
}

// TestMigrate0004 opens a database at 0002 with raw rows written the way
// that version wrote them (no codec, a 50 KB one that would be compressed
// today among them): after 0004 they read back unchanged next to
// compressed rows inserted since, before and after a reopen.
func TestMigrate0004(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	if err := store.MigrateOnly(ctx, path, "0001_init.sql", "0002_search.sql"); err != nil {
		t.Fatalf("MigrateOnly: %v", err)
	}
	g := newMailGen(4)
	msgs := map[string][]byte{
		"old-big":   g.multipart(1, 50_000),
		"old-small": []byte("From: a@example.com\r\nSubject: old\r\n\r\nold words\r\n"),
		"new-big":   g.multipart(2, 50_000),
		"new-small": []byte("From: a@example.com\r\nSubject: new\r\n\r\nnew words\r\n"),
	}
	old := openFile(t, path)
	for i, id := range []string{"old-big", "old-small"} {
		res, err := old.ExecContext(ctx, `INSERT INTO messages (id, created, size, subject) VALUES (?, ?, ?, ?)`,
			id, int64(i+1)*1e18, len(msgs[id]), id)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.ExecContext(ctx, `INSERT INTO raw (seq, data) VALUES (?, ?)`, seq, msgs[id]); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	open := func() *store.DB {
		t.Helper()
		db, err := store.Open(ctx, path, store.Options{Log: discard()})
		if err != nil {
			t.Fatalf("Open migrates: %v", err)
		}
		return db
	}
	db := open()
	for _, id := range []string{"new-big", "new-small"} {
		if _, err := db.Insert(ctx, id, store.Envelope{}, msgs[id]); err != nil {
			t.Fatal(err)
		}
	}
	conn := openFile(t, path)
	for id, want := range map[string]int{
		"old-big": store.CodecPlain, "old-small": store.CodecPlain,
		"new-big": store.CodecZstd, "new-small": store.CodecPlain,
	} {
		if codec, _ := rawRow(t, conn, id); codec != want {
			t.Errorf("%s: codec %d, want %d", id, codec, want)
		}
	}
	readAll := func(db *store.DB) {
		t.Helper()
		for id, raw := range msgs {
			if got, err := db.Raw(ctx, id); err != nil || !bytes.Equal(got, raw) {
				t.Errorf("Raw(%s) = %d bytes, %v; want %d", id, len(got), err, len(raw))
			}
		}
		for _, id := range []string{"old-big", "new-big"} {
			p, content, err := db.Part(ctx, id, "2")
			if err != nil || !strings.HasPrefix(string(content), "%PDF-") {
				t.Errorf("Part(%s, 2) = %+v, %.10q, %v; want the PDF", id, p, content, err)
			}
		}
	}
	readAll(db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open() // 0004 is recorded: ADD COLUMN again would fail
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	readAll(db)
}

// FuzzDecompressRaw: no bytes and no size make decompressRaw panic, and
// what it accepts has exactly the size it was told.
func FuzzDecompressRaw(f *testing.F) {
	for _, raw := range [][]byte{newMailGen(5).text(1, 2048), newMailGen(6).multipart(1, 50_000)} {
		z, _ := store.CompressRaw(raw)
		f.Add(z, int64(len(raw)))
		f.Add(z[:len(z)/2], int64(len(raw)))
	}
	f.Fuzz(func(t *testing.T, data []byte, size int64) {
		size %= 1 << 20 // beyond the bound TestRawCorrupt checks, only slower
		got, err := store.DecompressRaw(data, store.CodecZstd, size)
		if err == nil && int64(len(got)) != size {
			t.Fatalf("decoded %d bytes, told %d", len(got), size)
		}
	})
}

// BenchmarkCompressRaw measures compressRaw, the CPU Insert spends on the
// raw row, on generated realistic messages (see mailGen); ratio is stored
// bytes over message bytes.
func BenchmarkCompressRaw(b *testing.B) {
	for _, bm := range rawBenchMessages() {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.raw)))
			var data []byte
			for b.Loop() {
				data, _ = store.CompressRaw(bm.raw)
			}
			b.ReportMetric(float64(len(data))/float64(len(bm.raw)), "ratio")
		})
	}
}

// BenchmarkDecompressRaw measures what Raw, Part and PartContents add to
// read a compressed row.
func BenchmarkDecompressRaw(b *testing.B) {
	for _, bm := range rawBenchMessages() {
		b.Run(bm.name, func(b *testing.B) {
			data, codec := store.CompressRaw(bm.raw)
			b.SetBytes(int64(len(bm.raw)))
			for b.Loop() {
				if _, err := store.DecompressRaw(data, codec, int64(len(bm.raw))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func rawBenchMessages() []struct {
	name string
	raw  []byte
} {
	g := newMailGen(42)
	return []struct {
		name string
		raw  []byte
	}{
		{"text-2KB", g.text(1, 2048)},
		{"multipart-50KB", g.multipart(2, 50_000)},
	}
}

var (
	sizeText      = flag.Int("size-text", 10_000, "2 KB text messages BenchmarkStoredSize stores")
	sizeMultipart = flag.Int("size-multipart", 1_000, "50 KB multipart messages BenchmarkStoredSize stores")
)

// BenchmarkStoredSize stores -size-text generated 2 KB text messages, or
// -size-multipart 50 KB multipart ones, in a new database and reports the
// file size per message after Close (B/msg), of which the raw table
// (raw-B/msg), next to the mean message size (msg-B). Run it once:
//
//	go test ./store -run '^$' -bench StoredSize -benchtime 1x
func BenchmarkStoredSize(b *testing.B) {
	for _, bm := range []struct {
		name string
		n    int
		gen  func(g *mailGen, i int) []byte
	}{
		{"text-2KB", *sizeText, func(g *mailGen, i int) []byte { return g.text(i, 2048) }},
		{"multipart-50KB", *sizeMultipart, func(g *mailGen, i int) []byte { return g.multipart(i, 50_000) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				path := filepath.Join(b.TempDir(), "size.db")
				db, err := store.Open(ctx, path, store.Options{Log: discard()})
				if err != nil {
					b.Fatal(err)
				}
				g := newMailGen(uint64(bm.n))
				var msgBytes int64
				for i := range bm.n {
					raw := bm.gen(g, i)
					msgBytes += int64(len(raw))
					if _, err := db.Insert(ctx, "", store.Envelope{}, raw); err != nil {
						b.Fatal(err)
					}
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				var rawBytes int64
				if err := openFile(b, path).QueryRow(`SELECT sum(pgsize) FROM dbstat WHERE name = 'raw'`).Scan(&rawBytes); err != nil {
					b.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				n := float64(bm.n)
				b.ReportMetric(float64(fi.Size())/n, "B/msg")
				b.ReportMetric(float64(rawBytes)/n, "raw-B/msg")
				b.ReportMetric(float64(msgBytes)/n, "msg-B")
			}
		})
	}
}

// TestRawOldSmallRowsReadable: builds before compressMin was 4 KiB stored
// messages from 1 KiB up compressed; those rows still read back.
func TestRawOldSmallRowsReadable(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close() //nolint:errcheck // test
	for _, n := range []int{1024, 2048, 4095} {
		raw := newMailGen(uint64(n)).text(1, n)
		got, err := store.DecompressRaw(enc.EncodeAll(raw, nil), store.CodecZstd, int64(len(raw)))
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%d bytes: %d back, %v", len(raw), len(got), err)
		}
	}
	if _, err := store.DecompressRaw(enc.EncodeAll([]byte("tiny"), nil), store.CodecZstd, 4); err == nil {
		t.Error("a 4-byte compressed row was accepted; no build ever wrote one")
	}
}
