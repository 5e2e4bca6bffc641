package smtpd

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path       string
		utf8       bool
		postmaster bool
		want       string
		wantErr    *Error
	}{
		{"<a@x.test>", false, false, "a@x.test", nil},
		{"<>", false, false, "", nil},
		{"<Postmaster>", false, true, "Postmaster", nil},
		{"<Postmaster>", false, false, "", errSenderSyntax},
		{"<@a.test,@b.test:u@c.test>", false, false, "u@c.test", nil},
		{"<@a.test:u@c.test>", false, false, "u@c.test", nil},
		{"<@a.test,b.test:u@c.test>", false, false, "", errSenderSyntax},
		{"<@a.test u@c.test>", false, false, "", errSenderSyntax},
		{`<"john smith"@x.test>`, false, false, `"john smith"@x.test`, nil},
		{`<"a\"b\\c"@x.test>`, false, false, `"a\"b\\c"@x.test`, nil},
		{`<"a"b@x.test>`, false, false, "", errSenderSyntax},
		{`<"a@x.test>`, false, false, "", errSenderSyntax},
		{"<u@[192.0.2.1]>", false, false, "u@[192.0.2.1]", nil},
		{"<u@[192.0.2.01]>", false, false, "", errSenderSyntax},
		{"<u@[IPv6:2001:db8::1]>", false, false, "u@[IPv6:2001:db8::1]", nil},
		{"<u@[ipv6:::1]>", false, false, "u@[ipv6:::1]", nil},
		{"<u@[IPv6:fe80::1%eth0]>", false, false, "", errSenderSyntax},
		{"<u@[2001:db8::1]>", false, false, "", errSenderSyntax},
		{"<a@>", false, false, "", errSenderSyntax},
		{"<@>", false, false, "", errSenderSyntax},
		{"<a>", false, false, "", errSenderSyntax},
		{"<a b@c>", false, false, "", errSenderSyntax},
		{"<.a@c>", false, false, "", errSenderSyntax},
		{"<a..b@c>", false, false, "", errSenderSyntax},
		{"<a@c.>", false, false, "", errSenderSyntax},
		{"<a@c-.d>", false, false, "", errSenderSyntax},
		{"<a@c_d.e>", false, false, "", errSenderSyntax},
		{"<ü@x.test>", false, false, "", errNeedUTF8},
		{"<ü@x.test>", true, false, "ü@x.test", nil},
		{"<u@bücher.test>", true, false, "u@bücher.test", nil},
		{"<\xff@x.test>", true, false, "", errSenderSyntax},
		{"<" + strings.Repeat("a", 247) + "@x.test>", false, false, strings.Repeat("a", 247) + "@x.test", nil},
		{"<" + strings.Repeat("a", 248) + "@x.test>", false, false, "", errPathTooLong},
		{"a@x.test", false, false, "", errPathSyntax},
	}
	for _, tt := range tests {
		got, err := parsePath(tt.path, tt.utf8, tt.postmaster, errSenderSyntax)
		if got != tt.want || err != tt.wantErr {
			t.Errorf("parsePath(%q) = %q, %v; want %q, %v", tt.path, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSplitPathArg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arg, path, params string
		ok                bool
	}{
		{"FROM:<a@b>", "<a@b>", "", true},
		{"from: <a@b>  SIZE=1 BODY=8BITMIME", "<a@b>", "SIZE=1 BODY=8BITMIME", true},
		{`FROM:<"a>b"@c>`, `<"a>b"@c>`, "", true},
		{`FROM:<"a\">b"@c> X`, `<"a\">b"@c>`, "X", true},
		{"FROM:<a@b>X", "", "", false},
		{"FROM:a@b", "", "", false},
		{"FROM:<a@b", "", "", false},
		{"TO:<a@b>", "", "", false},
		{"FROM", "", "", false},
	}
	for _, tt := range tests {
		path, params, ok := splitPathArg(tt.arg, "FROM:")
		if path != tt.path || params != tt.params || ok != tt.ok {
			t.Errorf("splitPathArg(%q) = %q, %q, %v; want %q, %q, %v", tt.arg, path, params, ok, tt.path, tt.params, tt.ok)
		}
	}
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []Param
		wantErr *Error
	}{
		{"", nil, nil},
		{"size=10  body=8BITMIME SMTPUTF8", []Param{{"SIZE", "10"}, {"BODY", "8BITMIME"}, {"SMTPUTF8", ""}}, nil},
		{"X-FOO=a+20b", []Param{{"X-FOO", "a+20b"}}, nil},
		{"SIZE=", nil, errParamSyntax},
		{"SIZE=1=2", nil, errParamSyntax},
		{"-X=1", nil, errParamSyntax},
		{"S_Z=1", nil, errParamSyntax},
		{"SIZE=1 size=2", nil, errParamDup},
	}
	for _, tt := range tests {
		got, err := parseParams(tt.in)
		if !slices.Equal(got, tt.want) || err != tt.wantErr {
			t.Errorf("parseParams(%q) = %v, %v; want %v, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct{ line, verb, arg string }{
		{"EHLO x.test", "EHLO", "x.test"},
		{"ehlo   x.test  ", "EHLO", "x.test"},
		{"QUIT", "QUIT", ""},
		{"", "", ""},
		{" NOOP", "", "NOOP"},
		{"MA\x00IL FROM:<a@b>", "", "FROM:<a@b>"},
		{"STARTTLSX", "STARTTLSX", ""},
		{"ABCDEFGHIJKLM", "", ""},
	}
	for _, tt := range tests {
		verb, arg := parseCommand(tt.line)
		if verb != tt.verb || arg != tt.arg {
			t.Errorf("parseCommand(%q) = %q, %q; want %q, %q", tt.line, verb, arg, tt.verb, tt.arg)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<a@x.test> SIZE=10 BODY=8BITMIME",
		"RCPT TO:<@a.test,@b.test:u@c.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40c.test",
		`RCPT TO:<"john \"x\" smith"@x.test>`,
		"MAIL FROM:<>",
		"RCPT TO:<Postmaster>",
		"MAIL FROM:<u@[IPv6:2001:db8::1]> SMTPUTF8",
		"MAIL FROM:<ü@bücher.test> SMTPUTF8",
		"mail from: <a@b>",
		"RCPT TO:<a@b",
		"EHLO x",
		"\x00\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		verb, arg := parseCommand(line)
		if verb != "" && verb != strings.ToUpper(verb) {
			t.Fatalf("verb %q not upper-case", verb)
		}
		if verb != "" && !strings.HasPrefix(strings.ToUpper(line), verb) {
			t.Fatalf("verb %q not a prefix of %q", verb, line)
		}
		for _, kw := range []string{"FROM:", "TO:"} {
			path, ps, ok := splitPathArg(arg, kw)
			if !ok {
				continue
			}
			if !strings.HasPrefix(path, "<") || !strings.HasSuffix(path, ">") {
				t.Fatalf("path %q not bracketed", path)
			}
			for _, utf8ok := range []bool{false, true} {
				addr, err := parsePath(path, utf8ok, kw == "TO:", errRcptSyntax)
				if err != nil || addr == "" {
					continue
				}
				// Round trip: the stored address is itself a valid path.
				again, err := parsePath("<"+addr+">", utf8ok, kw == "TO:", errRcptSyntax)
				if err != nil || again != addr {
					t.Fatalf("re-parse of %q = %q, %v", addr, again, err)
				}
				if strings.ContainsAny(addr, "\r\n\x00<>") && !strings.HasPrefix(addr, `"`) {
					t.Fatalf("address %q contains forbidden octets", addr)
				}
				if strings.ContainsAny(addr, "\r\n") {
					t.Fatalf("address %q contains CR/LF", addr)
				}
			}
			params, err := parseParams(ps)
			if err != nil {
				continue
			}
			var parts []string
			for _, p := range params {
				if p.Key != strings.ToUpper(p.Key) {
					t.Fatalf("key %q not upper-case", p.Key)
				}
				s := p.Key
				if p.Value != "" {
					s += "=" + p.Value
				}
				parts = append(parts, s)
			}
			again, err := parseParams(strings.Join(parts, " "))
			if err != nil || !slices.Equal(again, params) {
				t.Fatalf("params round trip %v → %v, %v", params, again, err)
			}
		}
	})
}
