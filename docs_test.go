package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated files (README.md's flags table) instead of comparing")

// The README's flags table sits between these markers and is generated
// from newFlagSet; everything else in the README is written by hand.
const (
	flagsBegin = "<!-- flags:begin -->"
	flagsEnd   = "<!-- flags:end -->"
)

// docsHostname stands in for the machine's host name, the default of
// --hostname, so that the table does not depend on where it is made.
const docsHostname = "\x00hostname"

// flagsTable renders the server's flags as the README's Markdown table:
// flag, environment twin, default and the usage text of --help.
func flagsTable() string {
	var b strings.Builder
	b.WriteString("<!-- Generated from the flags in config.go: go test -run TestREADMEFlagsTable -update . -->\n")
	b.WriteString("Precedence: the flag, then its environment variable, then the `--config` JSON file " +
		"(keys are flag names: `{\"max-age\": \"7d\", \"chaos-rule\": [\"…\"]}`), then the default.\n\n")
	b.WriteString("| flag | env | default | meaning |\n|---|---|---|---|\n")
	newFlagSet(&config{}, docsHostname).VisitAll(func(f *flag.Flag) {
		def := "`" + strings.ReplaceAll(f.DefValue, "|", `\|`) + "`"
		switch f.DefValue {
		case "":
			def = "*empty*"
		case docsHostname:
			def = "*this machine's host name*"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s |\n", f.Name, envName(f.Name), def, mdCell(f.Usage))
	})
	return b.String()
}

// mdCell escapes what would end a table cell or start Markdown emphasis
// or HTML in the usage text, and sets flag and variable names as code.
func mdCell(s string) string {
	s = strings.NewReplacer("|", `\|`, "*", `\*`, "<", "&lt;", "\n", " ").Replace(s)
	return codeNames.ReplaceAllString(s, "`$0`")
}

// codeNames are the flag and environment variable names in usage texts.
var codeNames = regexp.MustCompile(`--[a-z][a-z0-9-]*[a-z0-9]|MAILSINK_[A-Z0-9_]*[A-Z0-9]`)

// TestREADMEFlagsTable fails when README.md's flags table is not what the
// flags say; -update rewrites it.
func TestREADMEFlagsTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(flagsBegin)), bytes.Index(readme, []byte(flagsEnd))
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %s … %s markers around the flags table", flagsBegin, flagsEnd)
	}
	start := i + len(flagsBegin) + 1 // after the marker's line
	got, want := string(readme[start:j]), flagsTable()
	if got == want {
		return
	}
	if *update {
		out := append(append(bytes.Clone(readme[:start]), want...), readme[j:]...)
		if err := os.WriteFile("README.md", out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote README.md's flags table")
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for k := range max(len(gl), len(wl)) {
		g, w := "", ""
		if k < len(gl) {
			g = gl[k]
		}
		if k < len(wl) {
			w = wl[k]
		}
		if g != w {
			t.Errorf("README.md's flags table is out of date (first difference, line %d of the table):\n  README: %s\n  flags:  %s", k+1, g, w)
			break
		}
	}
	t.Errorf("regenerate it with: go test -run TestREADMEFlagsTable -update .")
}

// envNotFlags are the MAILSINK_* variables the docs may name that are not
// a server flag's twin: the CLI's credentials and the test suite's knobs.
var envNotFlags = map[string]bool{
	"MAILSINK_API_TOKEN":         true,
	"MAILSINK_API_USER":          true,
	"MAILSINK_SCREENSHOTS":       true,
	"MAILSINK_SCALE":             true,
	"MAILSINK_REQUIRE_CORPUS":    true,
	"MAILSINK_REQUIRE_CLIENTS":   true,
	"MAILSINK_REQUIRE_BROWSER":   true,
	"MAILSINK_REQUIRE_CONTAINER": true,
}

// TestDocsReferences: every MAILSINK_* variable the README, SECURITY.md
// and the examples name is a real one, and every file they link to or
// show exists, so renaming a flag or a screenshot breaks the build, not
// a reader's setup.
func TestDocsReferences(t *testing.T) {
	twins := map[string]bool{}
	newFlagSet(&config{}, docsHostname).VisitAll(func(f *flag.Flag) { twins[envName(f.Name)] = true })
	envRE := regexp.MustCompile(`MAILSINK_[A-Z0-9_]*[A-Z0-9]`)
	linkRE := regexp.MustCompile(`\]\(([^)#:]+)\)`) // relative Markdown links and images
	for _, doc := range []string{"README.md", "SECURITY.md", "examples/docker-compose.yml", "examples/kubernetes.yaml", "Dockerfile"} {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range envRE.FindAllString(string(data), -1) {
			if !twins[v] && !envNotFlags[v] {
				t.Errorf("%s names %s, which is no flag's twin", doc, v)
			}
		}
		for _, m := range linkRE.FindAllStringSubmatch(string(data), -1) {
			if _, err := os.Stat(m[1]); err != nil {
				t.Errorf("%s links to %s: %v", doc, m[1], err)
			}
		}
	}
}
