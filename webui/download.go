package webui

import (
	"mime"
	"net/http"
	"strings"
)

// Parts are content a stranger mailed us, served from our origin. A part
// the browser renders as a document (HTML, SVG, XML with a stylesheet) or
// runs (JavaScript, CSS pulled in by a page) would run with our origin's
// rights: read all mail through the API. So a part is served with its own
// type only when that type is inert, and is a download unless it is a
// raster image, which the UI and the preview show inline.

// inlineTypes are shown in place: raster images, which no browser runs.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/pjpeg": true, "image/gif": true,
	"image/webp": true, "image/avif": true, "image/bmp": true, "image/x-icon": true,
	"image/vnd.microsoft.icon": true,
}

// partResponse decides how a part with the declared Content-Type ct is
// served: the type sent and whether it may be inline (else the
// Content-Disposition is attachment).
//
//   - raster images: as declared, inline;
//   - any other text/*: text/plain with the same charset, as an
//     attachment (still readable by the UI's part viewer, never a page);
//   - types browsers render or run (HTML, anything XML including SVG,
//     scripts, multipart, Flash, WebAssembly): application/octet-stream,
//     as an attachment. An SVG requested by an <img> (Sec-Fetch-Dest:
//     image, where scripts never run) keeps image/svg+xml so that email
//     previews show it;
//   - everything else (PDF, archives, office files, audio, video): as
//     declared, as an attachment.
func partResponse(ct string, r *http.Request) (served string, inline bool) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "application/octet-stream", false
	}
	mt = strings.ToLower(mt)
	switch {
	case inlineTypes[mt]:
		return ct, true
	case mt == "image/svg+xml" && r.Header.Get("Sec-Fetch-Dest") == "image":
		return ct, true
	case mt == "text/plain":
		return ct, false
	case strings.HasPrefix(mt, "text/"):
		if cs := params["charset"]; cs != "" {
			return mime.FormatMediaType("text/plain", map[string]string{"charset": cs}), false
		}
		return "text/plain", false
	case isActiveType(mt):
		return "application/octet-stream", false
	}
	return ct, false
}

// isActiveType reports whether a browser may render or run a resource of
// media type mt (lower case) as more than inert data.
func isActiveType(mt string) bool {
	typ, sub, _ := strings.Cut(mt, "/")
	switch {
	case typ == "multipart", typ == "text":
		return true
	case sub == "xml", strings.HasSuffix(sub, "+xml"), strings.Contains(sub, "html"):
		return true
	case strings.Contains(sub, "script"), strings.Contains(sub, "javascript"), strings.Contains(sub, "ecmascript"):
		return true
	case strings.Contains(sub, "shockwave"), sub == "wasm", sub == "x-java-applet", sub == "java-archive":
		return true
	}
	return false
}

// setPartHeaders sets the headers of a part download and returns the type
// to send: Content-Disposition (name kept), a sandboxing CSP in case the
// part is rendered after all, and Vary on Sec-Fetch-Dest (see
// partResponse).
func setPartHeaders(h http.Header, r *http.Request, declared, name string) string {
	ct, inline := partResponse(declared, r)
	cd := contentDisposition(name)
	if !inline {
		cd = attachmentDisposition(name)
	}
	h.Set("Content-Disposition", cd)
	h.Set("Content-Security-Policy", viewCSP)
	h.Add("Vary", "Sec-Fetch-Dest")
	return ct
}
