package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestNodeClients runs the real Mailpit and MailHog client libraries from
// npm (testdata/clients, pinned by its package-lock.json; .ci/run installs
// them with npm ci) against a mailsink started here.
func TestNodeClients(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "clients")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "mailpit-api"))
	}
	if err != nil {
		if os.Getenv("MAILSINK_REQUIRE_CLIENTS") != "" {
			t.Fatalf("node clients not installed (run npm ci --prefix %s): %v", dir, err)
		}
		t.Skipf("node clients not installed (npm ci --prefix %s): %v", dir, err)
	}
	// One server per library: each test file clears the store it uses.
	for _, file := range []string{"mailpit.test.mjs", "mailhog.test.mjs"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, nil)
			host, port, _ := net.SplitHostPort(s.smtp)
			cmd := exec.Command(node, "--test", "--test-reporter=spec", file)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "MAILSINK_HTTP=http://"+s.http, "MAILSINK_SMTP_HOST="+host, "MAILSINK_SMTP_PORT="+port)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("node --test %s: %v\n%s", file, err, out)
			}
		})
	}
}
