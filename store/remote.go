package store

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// RemoteRef is one remote resource an HTML body would fetch when rendered:
// an image or a style sheet, the things the preview blocks until the user
// allows them.
type RemoteRef struct {
	URL  string `json:"URL"`
	Kind string `json:"Kind"` // "image" or "style"
}

// RemoteResources lists the remote (http, https or protocol-relative)
// images and style sheets of an HTML body in document order: img src and
// srcset, picture source srcset, input type=image, video poster, SVG image
// href, background attributes, <link rel=stylesheet>, and url(…) and
// @import in style attributes and <style> elements. It reads the parsed
// document, so character references (&#104;ttp://…) and odd quoting are
// seen as a browser sees them, which a scan of the markup would miss.
func RemoteResources(src string) []RemoteRef {
	out := []RemoteRef{}
	if strings.TrimSpace(src) == "" {
		return out
	}
	doc, err := extParse(src)
	if err != nil {
		return out
	}
	add := func(kind, u string) {
		if u, ok := remoteURL(u); ok {
			out = append(out, RemoteRef{URL: u, Kind: kind})
		}
	}
	extWalk(doc, func(n *html.Node, enter bool) bool {
		if !enter {
			return true
		}
		switch n.Type {
		case html.TextNode:
			if p := n.Parent; p != nil && p.Type == html.ElementNode && p.DataAtom == atom.Style {
				for _, u := range cssURLs(n.Data) {
					add("style", u)
				}
			}
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Img:
				add("image", extAttr(n, "src"))
				for _, u := range srcsetURLs(extAttr(n, "srcset")) {
					add("image", u)
				}
			case atom.Source:
				for _, u := range srcsetURLs(extAttr(n, "srcset")) {
					add("image", u)
				}
			case atom.Input:
				if strings.EqualFold(extAttr(n, "type"), "image") {
					add("image", extAttr(n, "src"))
				}
			case atom.Video:
				add("image", extAttr(n, "poster"))
			case atom.Link:
				if hasToken(extAttr(n, "rel"), "stylesheet") {
					add("style", extAttr(n, "href"))
				}
			}
			if n.Namespace == "svg" && n.Data == "image" {
				add("image", extAttr(n, "href"))
			}
			add("image", extAttr(n, "background"))
			for _, u := range cssURLs(extAttr(n, "style")) {
				add("image", u)
			}
		}
		return true
	})
	return out
}

// remoteURL reports whether a URL reference leaves the message: http:,
// https: or protocol-relative (//host/…, which in the preview resolves
// against our own http: origin and so goes to another host).
func remoteURL(u string) (string, bool) {
	u = strings.TrimSpace(u)
	l := strings.ToLower(u)
	if strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "//") {
		return u, true
	}
	return "", false
}

// cssRef matches url(…) and @import "…" in CSS text.
var cssRef = regexp.MustCompile(`(?i)url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)|@import\s+(?:"([^"]*)"|'([^']*)')`)

// cssURLs returns the URLs a piece of CSS references.
func cssURLs(css string) []string {
	if !strings.Contains(css, "(") && !strings.Contains(css, "@") {
		return nil
	}
	var out []string
	for _, m := range cssRef.FindAllStringSubmatch(css, -1) {
		for _, g := range m[1:] {
			if g != "" {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// srcsetURLs returns the candidate URLs of a srcset attribute
// ("a.png 1x, b.png 2x").
func srcsetURLs(s string) []string {
	var out []string
	for c := range strings.SplitSeq(s, ",") {
		if f := strings.Fields(c); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

// hasToken reports whether a space-separated attribute value holds tok
// (case-insensitively).
func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}
