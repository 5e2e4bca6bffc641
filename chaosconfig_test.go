package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChaosConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		cfg     config
		rules   int
		enabled bool
		magic   bool
		seed    int64
		wantErr string
	}{
		{name: "nothing: off", rules: 0},
		{name: "compact rules are on", cfg: config{ChaosRules: []string{"rcpt:to=*@b.test:550", "mail:every=2:451"}, ChaosSeed: 9},
			rules: 2, enabled: true, seed: 9},
		{name: "file object, rules as objects and strings", cfg: config{ChaosFile: write("obj.json",
			`{"Seed": 5, "Magic": true, "Rules": [{"Stage": "rcpt", "Code": 550}, "mail:p=50%:451"]}`)},
			rules: 2, enabled: true, magic: true, seed: 5},
		{name: "file list", cfg: config{ChaosFile: write("list.json", `["rcpt:greylist=1s", {"Stage":"quit","Delay":"10ms"}]`)},
			rules: 2, enabled: true},
		{name: "file disabled, flags add and enable", cfg: config{ChaosFile: write("off.json", `{"Enabled": false, "Rules": ["rcpt:550"]}`),
			ChaosRules: []string{"mail:451"}, ChaosMagic: true}, rules: 2, enabled: true, magic: true},
		{name: "file disabled stays off", cfg: config{ChaosFile: write("off2.json", `{"Enabled": false, "Rules": ["rcpt:550"]}`)}, rules: 1},
		{name: "unknown key", cfg: config{ChaosFile: write("bad.json", `{"Rulez": []}`)}, wantErr: "Rulez"},
		{name: "bad compact rule in file", cfg: config{ChaosFile: write("badrule.json", `["nowhere:550"]`)}, wantErr: "rule 1"},
		{name: "missing file", cfg: config{ChaosFile: filepath.Join(dir, "none.json")}, wantErr: "--chaos"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := chaosConfig(&tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cc.Rules) != tt.rules || cc.Enabled != tt.enabled || cc.Magic != tt.magic || cc.Seed != tt.seed {
				t.Errorf("config = %+v, want %d rules, enabled %v, magic %v, seed %d", cc, tt.rules, tt.enabled, tt.magic, tt.seed)
			}
		})
	}
}
