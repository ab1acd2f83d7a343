package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func lintFile(name string) string {
	return filepath.Join("..", "..", "protocol", "testdata", "lint", name)
}

// protocol lint exits 1 on errors, 0 on warnings alone, 2 on a usage
// mistake, and prints one finding a line with file, line, step and field.
func TestProtocolLintExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string // lines stdout must hold
		stderr string
	}{
		{"clean", []string{lintFile("ok.yaml")}, 0, nil, "1 protocol: 0 errors, 0 warnings"},
		{"errors", []string{lintFile("long.yaml")}, 1,
			[]string{lintFile("long.yaml") + `:28: step "day2": sms: takes 3 SMS segments (GSM-7, 377 characters)`},
			"aftercare: protocol lint: 1 protocol: 1 error, 3 warnings"},
		{"warnings only", []string{"--daily-cap", "2", lintFile("cap.yaml")}, 0,
			[]string{lintFile("cap.yaml") + ":4: warning: steps: day 1 has 3 texts"}, "0 errors, 2 warnings"},
		{"flags after files", []string{lintFile("cap.yaml"), "--daily-cap", "-1"}, 0, nil, "0 errors, 0 warnings"},
		{"embedded", []string{"--embedded"}, 0, []string{`embedded:microneedling.en:`}, "0 errors"},
		{"every file", []string{lintFile("ok.yaml"), lintFile("syntax.yaml"), "missing.yaml"}, 1,
			[]string{lintFile("syntax.yaml") + ":5: found unexpected end of stream", "missing.yaml: cannot read:"},
			"3 protocols: 2 errors"},
		{"quiet hours", []string{"--quiet", "22:30-07:00", lintFile("timing.yaml")}, 1,
			[]string{lintFile("timing.yaml") + `:28: step "late_night": at: "day 1 at 23:00" always falls in quiet hours (22:30-07:00)`}, "1 error"},
		{"no file", nil, 2, nil, "needs a FILE or --embedded"},
		{"no subcommand", []string{}, 2, nil, "usage: aftercare protocol lint"},
		{"bad quiet", []string{"--quiet", "late", lintFile("ok.yaml")}, 2, nil, "--quiet"},
		{"bad flag", []string{"--bogus", lintFile("ok.yaml")}, 2, nil, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"protocol"}, tt.args...)
			if tt.name != "no subcommand" {
				args = append([]string{"protocol", "lint"}, tt.args...)
			}
			var out, errb bytes.Buffer
			code := run(args, &out, &errb)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
			}
			for _, line := range tt.stdout {
				if !strings.Contains(out.String(), "\n"+line) && !strings.HasPrefix(out.String(), line) {
					t.Errorf("stdout lacks a line starting %q:\n%s", line, out.String())
				}
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.stderr)
			}
		})
	}
}

// --json prints one array of findings (an empty one when the file is
// clean) with every field a machine needs.
func TestProtocolLintJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"protocol", "lint", "--json", lintFile("unknown.yaml")}, &out, &errb); code != 1 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(got) != 6 {
		t.Fatalf("%d findings, want 6: %s", len(got), out.String())
	}
	first := got[0]
	want := map[string]any{"file": lintFile("unknown.yaml"), "line": float64(10), "step": "welcome", "severity": "error", "message": `unknown key "smss"`}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %v, want %v", k, first[k], v)
		}
	}
	if got[3]["field"] != "email.html" || got[3]["line"] != float64(33) {
		t.Errorf("fourth finding %v", got[3])
	}

	out.Reset()
	if code := run([]string{"protocol", "lint", "--json", lintFile("ok.yaml")}, &out, &errb); code != 0 {
		t.Fatalf("clean file: exit %d: %s", code, errb.String())
	}
	if strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("clean file prints %q, want []", out.String())
	}
}
