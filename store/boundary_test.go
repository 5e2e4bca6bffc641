package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsink/store"
)

// nestedUnclosed is a small message whose multiparts nest depth deep and
// are never closed: enmime alone takes time exponential in depth on it.
func nestedUnclosed(depth int) string {
	var b strings.Builder
	b.WriteString("Subject: deep\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\nbottom of the well\r\n", depth)
	return b.String()
}

func TestUnclosedNestedMultipartsParseQuickly(t *testing.T) {
	t.Parallel()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "deep.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw := []byte(nestedUnclosed(200))
	start := time.Now()
	if _, err := db.Insert(context.Background(), "deep", store.Envelope{}, raw); err != nil {
		t.Fatal(err)
	}
	// Unrepaired, 200 levels take minutes (20 take half a second); this is
	// a generous bound that only a regression to exponential time breaks.
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("insert took %v", el)
	}
	m, err := db.Get(context.Background(), "deep")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "bottom of the well") {
		t.Errorf("innermost text lost: %q", m.Text)
	}
	found := false
	for _, f := range m.Findings {
		found = found || f.Code == "unclosed-boundary" && strings.Contains(f.Text, "201 multipart boundaries")
	}
	if !found {
		t.Errorf("findings = %+v, want unclosed-boundary naming 201 boundaries", m.Findings)
	}
	got, err := db.Raw(context.Background(), "deep")
	if err != nil || string(got) != string(raw) {
		t.Errorf("raw changed by the repair (err %v)", err)
	}
}
