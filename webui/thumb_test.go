package webui_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"runtime"
	"testing"
	"time"
)

func fillImage(w, h int, c color.Color) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(m, m.Bounds(), image.NewUniform(c), image.Point{}, draw.Src)
	return m
}

func encodePNG(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func encodeJPEG(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 95}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func encodeGIF(tb testing.TB, m image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, m, nil); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// sendAttachments stores one message with the given attachments and
// returns its ID and the attachments' part IDs in order.
func sendAttachments(tb testing.TB, s *testServer, atts ...sendAtt) (string, []string) {
	tb.Helper()
	id := s.mustSend(tb, sendReq{
		From: sendAddr{Email: "a@example.test"}, To: []sendAddr{{Email: "b@example.test"}},
		Text: "see attached", Attachments: atts,
	})
	var m message
	s.getLoose(tb, "/api/v1/message/"+id, &m)
	if len(m.Attachments) != len(atts) {
		tb.Fatalf("stored %d attachments, want %d", len(m.Attachments), len(atts))
	}
	parts := make([]string, len(m.Attachments))
	for i, a := range m.Attachments {
		parts[i] = a.PartID
	}
	return id, parts
}

func thumbAttach(name, ctype string, content []byte) sendAtt {
	return sendAtt{Filename: name, ContentType: ctype, Content: base64.StdEncoding.EncodeToString(content)}
}

// getThumb fetches a thumbnail, wants a 180×120 JPEG and decodes it.
func getThumb(tb testing.TB, s *testServer, path string) (image.Image, response) {
	tb.Helper()
	res := s.get(tb, path)
	if res.status != http.StatusOK {
		tb.Fatalf("GET %s = %d, want 200; body %s", path, res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "image/jpeg" {
		tb.Fatalf("GET %s Content-Type = %q, want image/jpeg", path, ct)
	}
	m, err := jpeg.Decode(bytes.NewReader(res.body))
	if err != nil {
		tb.Fatalf("GET %s: not a JPEG: %v", path, err)
	}
	if b := m.Bounds(); b.Dx() != 180 || b.Dy() != 120 {
		tb.Fatalf("GET %s: thumbnail is %dx%d, want 180x120", path, b.Dx(), b.Dy())
	}
	return m, res
}

// nearColor reports whether c is within tol of want in each 8-bit channel.
func nearColor(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(got uint32, w uint8) bool { diff := int(got>>8) - int(w); return max(diff, -diff) <= tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// wantBlank checks that every pixel of m is (near) white.
func wantBlank(tb testing.TB, m image.Image) {
	tb.Helper()
	white := color.RGBA{255, 255, 255, 255}
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !nearColor(m.At(x, y), white, 3) {
				tb.Fatalf("pixel (%d,%d) = %v, want white", x, y, m.At(x, y))
			}
		}
	}
}

func TestThumbImages(t *testing.T) {
	t.Parallel()
	red := color.RGBA{255, 0, 0, 255}
	blue := color.RGBA{0, 0, 255, 255}

	// 300×100 covers 180×120 at 1.2×; only the middle 150 columns
	// (75…224) are kept, so blue outside 70…229 must not show.
	wide := fillImage(300, 100, blue)
	draw.Draw(wide, image.Rect(70, 0, 230, 100), image.NewUniform(red), image.Point{}, draw.Src)

	// 100×300 covers at 1.8×; the middle 66.7 rows (116.7…183.3) are kept.
	tall := fillImage(100, 300, blue)
	draw.Draw(tall, image.Rect(0, 100, 100, 200), image.NewUniform(red), image.Point{}, draw.Src)

	// Exactly 180×120: no scaling, no cropping; a 16 px blue left band.
	exact := image.NewPaletted(image.Rect(0, 0, 180, 120), color.Palette{red, blue})
	for y := range 120 {
		for x := range 16 {
			exact.SetColorIndex(x, y, 1)
		}
	}

	// 3×2 scales up 60×: the blue top-left pixel becomes a 60×60 block.
	tiny := fillImage(3, 2, red)
	tiny.Set(0, 0, blue)

	// A transparent image lands on white.
	clear := image.NewNRGBA(image.Rect(0, 0, 50, 50))

	type probe struct {
		x, y int
		want color.RGBA
	}
	tests := []struct {
		name, file, ctype string
		content           []byte
		tol               int
		probes            []probe
	}{
		{"wide PNG is centre-cropped", "wide.png", "image/png", encodePNG(t, wide), 8,
			[]probe{{90, 60, red}, {0, 0, red}, {179, 0, red}, {0, 119, red}, {179, 119, red}}},
		{"tall JPEG is centre-cropped", "tall.jpg", "image/jpeg", encodeJPEG(t, tall), 40,
			[]probe{{90, 60, red}, {2, 2, red}, {177, 2, red}, {2, 117, red}, {177, 117, red}}},
		{"GIF of the exact size is kept whole", "exact.gif", "image/gif", encodeGIF(t, exact), 40,
			[]probe{{90, 60, red}, {4, 60, blue}, {4, 2, blue}, {24, 60, red}, {177, 117, red}}},
		{"tiny PNG is scaled up", "tiny.png", "image/png", encodePNG(t, tiny), 30,
			[]probe{{20, 20, blue}, {50, 50, blue}, {90, 60, red}, {20, 100, red}, {170, 10, red}}},
		{"transparent PNG is white", "clear.png", "image/png", encodePNG(t, clear), 3,
			[]probe{{90, 60, color.RGBA{255, 255, 255, 255}}, {0, 0, color.RGBA{255, 255, 255, 255}}}},
		{"type from the content, not the label", "wide.bin", "application/octet-stream", encodePNG(t, wide), 8,
			[]probe{{90, 60, red}, {0, 0, red}}},
	}
	s := newTestServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, parts := sendAttachments(t, s, thumbAttach(tt.file, tt.ctype, tt.content))
			m, res := getThumb(t, s, "/api/v1/message/"+id+"/part/"+parts[0]+"/thumb")
			for _, p := range tt.probes {
				if c := m.At(p.x, p.y); !nearColor(c, p.want, tt.tol) {
					t.Errorf("pixel (%d,%d) = %v, want %v", p.x, p.y, c, p.want)
				}
			}
			if cc := res.header.Get("Cache-Control"); cc != "private, max-age=86400" {
				t.Errorf("Cache-Control = %q", cc)
			}
		})
	}
}

func TestThumbNonImagesAreBlank(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	id, parts := sendAttachments(t, s,
		thumbAttach("notes.txt", "text/plain", []byte("just text")),
		thumbAttach("broken.png", "image/png", []byte("\x89PNG\r\n\x1a\nnot really")),
		thumbAttach("truncated.jpg", "image/jpeg", encodeJPEG(t, fillImage(64, 64, color.RGBA{255, 0, 0, 255}))[:200]),
		thumbAttach("empty.gif", "image/gif", nil),
	)
	for i, p := range parts {
		m, _ := getThumb(t, s, "/api/v1/message/"+id+"/part/"+p+"/thumb")
		t.Run(string(rune('a'+i)), func(t *testing.T) { wantBlank(t, m) })
	}
	// The text body part is no image either.
	var msg message
	s.getLoose(t, "/api/v1/message/"+id, &msg)
	body := firstLeafPart(msg.Parts)
	m, _ := getThumb(t, s, "/api/v1/message/"+id+"/part/"+body.PartID+"/thumb")
	wantBlank(t, m)
}

func firstLeafPart(p part) part {
	for len(p.Children) > 0 {
		p = p.Children[0]
	}
	return p
}

// bombPNG is a valid 1×1 PNG whose IHDR claims w×h: a decoder that
// trusted it would allocate w×h×4 bytes before finding the data short.
func bombPNG(tb testing.TB, w, h uint32) []byte {
	tb.Helper()
	b := encodePNG(tb, fillImage(1, 1, color.RGBA{255, 0, 0, 255}))
	// Signature (8), IHDR length (4), "IHDR" (4), width, height, …; the
	// CRC covers type and data (13 bytes) and follows them.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width != int(w) || cfg.Height != int(h) {
		tb.Fatalf("crafted PNG reads as %+v, %v", cfg, err)
	}
	return b
}

// TestThumbDecompressionBomb is not parallel: it measures the process's
// allocations around one request, which other tests would disturb.
func TestThumbDecompressionBomb(t *testing.T) {
	s := newTestServer(t)
	tests := []struct {
		name string
		w, h uint32
	}{
		{"20000x20000", 20000, 20000},
		{"just over 50 megapixels", 7072, 7071},
		{"very wide", 1 << 30, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, parts := sendAttachments(t, s, thumbAttach("bomb.png", "image/png", bombPNG(t, tt.w, tt.h)))
			path := "/api/v1/message/" + id + "/part/" + parts[0] + "/thumb"
			getThumb(t, s, path) // warm up the connection and the encoder

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			m, _ := getThumb(t, s, path)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)

			wantBlank(t, m)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 10<<20 {
				t.Errorf("the request allocated %d bytes, want < 10 MiB", alloc)
			}
			if elapsed > 2*time.Second {
				t.Errorf("the request took %v", elapsed)
			}
		})
	}
}

func TestThumbErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	// Nothing stored: latest is unknown.
	wantError(t, s.get(t, "/api/v1/message/latest/part/1/thumb"), http.StatusNotFound)

	id, parts := sendAttachments(t, s, thumbAttach("red.png", "image/png", encodePNG(t, fillImage(30, 20, color.RGBA{255, 0, 0, 255}))))
	wantError(t, s.get(t, "/api/v1/message/nope/part/"+parts[0]+"/thumb"), http.StatusNotFound)
	wantError(t, s.get(t, "/api/v1/message/"+id+"/part/99/thumb"), http.StatusNotFound)
	wantError(t, s.get(t, "/api/v1/message/"+id+"/part/"+parts[0]+"/thumb/x"), http.StatusNotFound)
	res := s.do(t, http.MethodPost, "/api/v1/message/"+id+"/part/"+parts[0]+"/thumb", nil)
	wantError(t, res, http.StatusMethodNotAllowed)

	// latest resolves to the message just sent.
	m, res := getThumb(t, s, "/api/v1/message/latest/part/"+parts[0]+"/thumb")
	if !nearColor(m.At(90, 60), color.RGBA{255, 0, 0, 255}, 8) {
		t.Errorf("latest thumbnail centre = %v, want red", m.At(90, 60))
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control for latest = %q, want no-cache", cc)
	}

	// A failing store is a 500, not a blank image.
	f := startServer(t, failing{err: errors.New("disk I/O error")}, nil, nil)
	wantError(t, f.get(t, "/api/v1/message/abc/part/1/thumb"), http.StatusInternalServerError)
}
