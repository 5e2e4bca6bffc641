package webui

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register the decoders thumbnails support
	"image/jpeg"
	_ "image/png"
	"math"
	"net/http"
	"strconv"
)

// Thumbnail geometry and limits.
const (
	thumbWidth     = 180
	thumbHeight    = 120
	thumbQuality   = 80
	thumbMaxPixels = 50_000_000 // larger images (by their header) get the blank thumbnail
)

// handleThumb: GET /api/v1/message/{id}/part/{part}/thumb, a 180×120 JPEG
// of an image part, scaled to cover and centre-cropped. Anything that is
// not a decodable PNG, JPEG or GIF of at most thumbMaxPixels gets a blank
// white thumbnail, as in Mailpit.
func (s *Server) handleThumb(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	id, err := s.resolveID(r.Context(), ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_, content, err := s.msgs.Part(r.Context(), id, r.PathValue("part"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, thumbnail(content), &jpeg.Options{Quality: thumbQuality}); err != nil {
		s.writeError(w, r, fmt.Errorf("encode thumbnail: %w", err))
		return
	}
	h := w.Header()
	if ref == "latest" {
		h.Set("Cache-Control", "no-cache") // "latest" names another message tomorrow
	} else {
		h.Set("Cache-Control", "private, max-age=86400") // a stored part never changes
	}
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes()) // a failed write means the client went away
}

// thumbnail returns the opaque thumbnail of content: the image scaled to
// cover thumbWidth×thumbHeight, centre-cropped and flattened onto white,
// or a white image when content is no image we decode. The size in the
// image header is checked before decoding, so a decompression bomb costs
// nothing.
func thumbnail(content []byte) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, thumbWidth, thumbHeight))
	for i := range dst.Pix {
		dst.Pix[i] = 0xff
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(content))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 ||
		int64(cfg.Width)*int64(cfg.Height) > thumbMaxPixels {
		return dst
	}
	src, _, err := image.Decode(bytes.NewReader(content))
	if err != nil || src.Bounds().Empty() {
		return dst
	}
	scaleCover(dst, src)
	return dst
}

// thumbTap is one source row or column and its share of a destination pixel.
type thumbTap struct {
	pos    int
	weight float64
}

// scaleCover scales src to cover dst (keeping its aspect ratio) and keeps
// the centre, box-filtering: each destination pixel is the area-weighted
// mean of the source pixels it covers. Alpha is composited onto white.
func scaleCover(dst *image.RGBA, src image.Image) {
	sb, db := src.Bounds(), dst.Bounds()
	sw, sh := float64(sb.Dx()), float64(sb.Dy())
	dw, dh := db.Dx(), db.Dy()
	scale := math.Max(float64(dw)/sw, float64(dh)/sh)
	cropW, cropH := float64(dw)/scale, float64(dh)/scale
	cols := boxTaps(dw, float64(sb.Min.X)+(sw-cropW)/2, cropW/float64(dw), sb.Min.X, sb.Max.X)
	rows := boxTaps(dh, float64(sb.Min.Y)+(sh-cropH)/2, cropH/float64(dh), sb.Min.Y, sb.Max.Y)
	at := rgbaAt(src)
	for y, ry := range rows {
		for x, cx := range cols {
			var r, g, b, a float64
			for _, ty := range ry {
				for _, tx := range cx {
					pr, pg, pb, pa := at(tx.pos, ty.pos)
					w := tx.weight * ty.weight
					r += w * float64(pr)
					g += w * float64(pg)
					b += w * float64(pb)
					a += w * float64(pa)
				}
			}
			// Premultiplied colour over white: c + (1 - alpha) × white.
			bg := 0xffff - a
			i := dst.PixOffset(db.Min.X+x, db.Min.Y+y)
			dst.Pix[i+0] = to8(r + bg)
			dst.Pix[i+1] = to8(g + bg)
			dst.Pix[i+2] = to8(b + bg)
			dst.Pix[i+3] = 0xff
		}
	}
}

// boxTaps returns, for each of n destination pixels along one axis, the
// source positions in [lo, hi) it covers and their normalised weights. The
// destination pixel i covers the source interval start+i×step to
// start+(i+1)×step.
func boxTaps(n int, start, step float64, lo, hi int) [][]thumbTap {
	out := make([][]thumbTap, n)
	for i := range out {
		a, b := start+float64(i)*step, start+float64(i+1)*step
		var taps []thumbTap
		total := 0.0
		for p := int(math.Floor(a)); float64(p) < b; p++ {
			w := math.Min(b, float64(p+1)) - math.Max(a, float64(p))
			if w <= 0 {
				continue
			}
			taps = append(taps, thumbTap{pos: min(max(p, lo), hi-1), weight: w})
			total += w
		}
		if total == 0 { // cannot happen for step > 0; keep the pixel defined anyway
			taps, total = []thumbTap{{pos: min(max(int(a), lo), hi-1), weight: 1}}, 1
		}
		for j := range taps {
			taps[j].weight /= total
		}
		out[i] = taps
	}
	return out
}

// rgbaAt returns a function reading the premultiplied 16-bit RGBA of a
// pixel of img, with fast paths for the types the decoders return (At
// boxes every colour in an interface).
func rgbaAt(img image.Image) func(x, y int) (r, g, b, a uint32) {
	switch m := img.(type) {
	case *image.RGBA:
		return func(x, y int) (r, g, b, a uint32) {
			p := m.Pix[m.PixOffset(x, y):]
			return uint32(p[0]) * 0x101, uint32(p[1]) * 0x101, uint32(p[2]) * 0x101, uint32(p[3]) * 0x101
		}
	case *image.NRGBA:
		return func(x, y int) (r, g, b, a uint32) {
			p := m.Pix[m.PixOffset(x, y):]
			return color.NRGBA{p[0], p[1], p[2], p[3]}.RGBA()
		}
	case *image.Gray:
		return func(x, y int) (r, g, b, a uint32) {
			v := uint32(m.Pix[m.PixOffset(x, y)]) * 0x101
			return v, v, v, 0xffff
		}
	case *image.YCbCr:
		return func(x, y int) (r, g, b, a uint32) {
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			return color.YCbCr{m.Y[yi], m.Cb[ci], m.Cr[ci]}.RGBA()
		}
	case *image.Paletted:
		pal := make([][4]uint32, len(m.Palette))
		for i, c := range m.Palette {
			r, g, b, a := c.RGBA()
			pal[i] = [4]uint32{r, g, b, a}
		}
		return func(x, y int) (r, g, b, a uint32) {
			idx := int(m.Pix[m.PixOffset(x, y)])
			if idx >= len(pal) {
				return 0, 0, 0, 0xffff // out-of-palette index (decoders reject it): black
			}
			c := pal[idx]
			return c[0], c[1], c[2], c[3]
		}
	default:
		return func(x, y int) (r, g, b, a uint32) { return img.At(x, y).RGBA() }
	}
}

// to8 converts a 16-bit channel value to 8 bits, rounding and clamping.
func to8(v float64) uint8 {
	return uint8(min(max(math.Round(v/0x101), 0), 0xff))
}
