package store

import (
	"reflect"
	"testing"
)

func TestRemoteResources(t *testing.T) {
	tests := []struct {
		name string
		html string
		want []RemoteRef
	}{
		{"none", `<p>hi <img src="cid:logo"> <img src="data:image/png;base64,AA=="></p>`, []RemoteRef{}},
		{"img", `<img src="https://t.example/p.gif">`, []RemoteRef{{"https://t.example/p.gif", "image"}}},
		{"entity-encoded scheme", `<img src="&#104;ttp://t.example/e.gif">`, []RemoteRef{{"http://t.example/e.gif", "image"}}},
		{"unquoted upper case", `<IMG SRC=HTTP://t.example/u.gif>`, []RemoteRef{{"HTTP://t.example/u.gif", "image"}}},
		{"protocol-relative", `<img src=" //cdn.example/x.png">`, []RemoteRef{{"//cdn.example/x.png", "image"}}},
		{"srcset", `<picture><source srcset="https://a.example/1.png 1x, https://a.example/2.png 2x"><img src="local.png"></picture>`,
			[]RemoteRef{{"https://a.example/1.png", "image"}, {"https://a.example/2.png", "image"}}},
		{"background and style", `<table background="http://b.example/bg.png"><tr><td style="background:url( 'https://b.example/c.png' )">x</td></tr></table>`,
			[]RemoteRef{{"http://b.example/bg.png", "image"}, {"https://b.example/c.png", "image"}}},
		{"stylesheet and style element", `<link rel="Stylesheet" href="https://s.example/a.css"><link rel="icon" href="https://s.example/i.ico"><style>@import "https://s.example/b.css"; p{background:url(http://s.example/p.png)}</style>`,
			[]RemoteRef{{"https://s.example/a.css", "style"}, {"https://s.example/b.css", "style"}, {"http://s.example/p.png", "style"}}},
		{"input image and poster", `<input type=image src="https://f.example/go.png"><video poster="https://f.example/v.jpg"></video>`,
			[]RemoteRef{{"https://f.example/go.png", "image"}, {"https://f.example/v.jpg", "image"}}},
		{"svg image", `<svg><image href="https://g.example/s.png"/></svg>`, []RemoteRef{{"https://g.example/s.png", "image"}}},
		{"links are not resources", `<a href="https://l.example/">click</a>`, []RemoteRef{}},
		{"empty", ``, []RemoteRef{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RemoteResources(tt.html); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RemoteResources(%q)\n got %v\nwant %v", tt.html, got, tt.want)
			}
		})
	}
}
