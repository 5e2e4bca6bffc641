package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"mailsink/smtpd/chaos"
)

// chaosConfig builds the chaos configuration the server starts with:
// --chaos FILE first, then the --chaos-rule rules, --chaos-seed and
// --chaos-magic. Rules given at start are enabled.
func chaosConfig(cfg *config) (chaos.Config, error) {
	var cc chaos.Config
	if cfg.ChaosFile != "" {
		data, err := os.ReadFile(cfg.ChaosFile)
		if err != nil {
			return cc, fmt.Errorf("--chaos: %w", err)
		}
		if cc, err = parseChaosFile(data); err != nil {
			return cc, fmt.Errorf("--chaos %s: %w", cfg.ChaosFile, err)
		}
	}
	for _, s := range cfg.ChaosRules {
		r, err := chaos.ParseRule(s)
		if err != nil {
			return cc, fmt.Errorf("--chaos-rule: %w", err)
		}
		cc.Rules = append(cc.Rules, r)
	}
	if len(cfg.ChaosRules) > 0 {
		cc.Enabled = true
	}
	if cfg.ChaosSeed != 0 {
		cc.Seed = cfg.ChaosSeed
	}
	cc.Magic = cc.Magic || cfg.ChaosMagic
	return cc, nil
}

// chaosFile is the JSON of --chaos: the PUT /api/v1/chaos body, whose
// rules may be objects or compact strings.
type chaosFile struct {
	Enabled *bool             `json:"Enabled"`
	Seed    int64             `json:"Seed"`
	Magic   bool              `json:"Magic"`
	Rules   []json.RawMessage `json:"Rules"`
}

// parseChaosFile reads a chaos file: an object like the API's, or a bare
// list of rules. Without an Enabled key, rules in a file are enabled.
func parseChaosFile(data []byte) (chaos.Config, error) {
	var f chaosFile
	data = bytes.TrimSpace(data)
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(data))
		d.DisallowUnknownFields()
		return d.Decode(v)
	}
	if bytes.HasPrefix(data, []byte("[")) {
		if err := dec(&f.Rules); err != nil {
			return chaos.Config{}, err
		}
	} else if err := dec(&f); err != nil {
		return chaos.Config{}, err
	}
	cc := chaos.Config{Seed: f.Seed, Magic: f.Magic, Enabled: len(f.Rules) > 0}
	if f.Enabled != nil {
		cc.Enabled = *f.Enabled
	}
	for i, raw := range f.Rules {
		var r chaos.Rule
		var s string
		if json.Unmarshal(raw, &s) == nil {
			var err error
			if r, err = chaos.ParseRule(s); err != nil {
				return chaos.Config{}, fmt.Errorf("rule %d: %w", i+1, err)
			}
		} else {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.DisallowUnknownFields()
			if err := d.Decode(&r); err != nil {
				return chaos.Config{}, fmt.Errorf("rule %d: %w", i+1, err)
			}
		}
		cc.Rules = append(cc.Rules, r)
	}
	return cc, nil
}
