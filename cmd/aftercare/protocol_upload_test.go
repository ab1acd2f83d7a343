package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// examplePeel is the repository's example second-treatment protocol.
var examplePeel = filepath.Join("..", "..", "testdata", "protocols", "example-chemical-peel.yaml")

// writeVariant writes the example peel protocol with old replaced by new.
func writeVariant(t *testing.T, name, old, new string) string {
	t.Helper()
	src, err := os.ReadFile(examplePeel)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("example protocol lacks %q", old)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Replace(string(src), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// protocol upload refuses a file with lint errors (exit 1, every finding
// with its line, nothing stored) and a version not above the daemon's;
// stores a good one; protocol use switches between the clinic's versions
// and the daemon's; protocol list shows what is in use; usage mistakes
// exit 2.
func TestProtocolUploadUseList(t *testing.T) {
	newClinic(t)
	broken := writeVariant(t, "broken.yaml", "peel,\n", "peel {{.Nonsense}},\n")
	v2 := writeVariant(t, "v2.yaml", "version: 1\n", "version: 2\n")
	mn, err := os.ReadFile(filepath.Join("..", "..", "protocol", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The line of its version, as the linter names it.
	versionLine := 1 + bytes.Count(mn[:bytes.Index(mn, []byte("\nversion: "))+1], []byte("\n"))
	lowMN := filepath.Join(t.TempDir(), "mn.yaml")
	if err := os.WriteFile(lowMN, mn, 0o600); err != nil { // the daemon's own version number
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"broken", []string{"upload", "--clinic", "1", broken}, 1,
			[]string{broken + `:23: step "late_start": sms: unknown template field .Nonsense`}, "nothing was stored"},
		{"nothing stored", []string{"list", "--clinic", "1"}, 0,
			[]string{"microneedling (en): the daemon's version 3 (embedded)"}, ""},
		{"version not above the daemon's", []string{"upload", "--clinic", "1", lowMN}, 1,
			[]string{lowMN + ":" + strconv.Itoa(versionLine) + `: version: version 3 is not above the daemon's version 3 of microneedling (en): give it version 4 or more`}, "1 error"},
		{"good, inactive", []string{"upload", "--clinic", "1", examplePeel}, 0,
			[]string{"clinic 1: chemical peel (en) version 1 stored (id 1), inactive"}, ""},
		{"same version again", []string{"upload", "--clinic", "1", examplePeel}, 1,
			[]string{"the clinic already has version 1 of chemical peel (en) (it has 1)"}, "nothing was stored"},
		{"good, active", []string{"upload", "--clinic", "1", "--activate", v2}, 0,
			[]string{"chemical peel (en) version 2 stored (id 2), active"}, ""},
		{"list", []string{"list", "--clinic", "1"}, 0,
			[]string{"chemical peel (en): the clinic's version 2; clinic versions: 1, 2 (active)"}, ""},
		{"use 1", []string{"use", "--clinic", "1", "--treatment", "Chemical Peel", "--language", "en", "--version", "1"}, 0,
			[]string{"clinic 1: chemical peel (en) now uses the clinic's version 1"}, ""},
		{"listed", []string{"list", "--clinic", "1"}, 0, []string{"clinic versions: 1 (active), 2"}, ""},
		{"no such version", []string{"use", "--clinic", "1", "--treatment", "chemical peel", "--language", "en", "--version", "7"}, 1,
			nil, "no version 7 of chemical peel (en); it has 1, 2"},
		{"no daemon peel", []string{"use", "--clinic", "1", "--treatment", "chemical peel", "--language", "en", "--daemon"}, 1,
			nil, "the daemon has no protocol for chemical peel (en)"},
		{"daemon microneedling", []string{"use", "--clinic", "1", "--treatment", "microneedling", "--language", "es", "--daemon"}, 0,
			[]string{"microneedling (es) now uses the daemon's protocol"}, ""},
		{"no clinic", []string{"upload", examplePeel}, 2, nil, "--clinic ID is required"},
		{"no file", []string{"upload", "--clinic", "1"}, 2, nil, "give exactly one FILE"},
		{"version and daemon", []string{"use", "--clinic", "1", "--treatment", "x", "--language", "en", "--version", "1", "--daemon"}, 2,
			nil, "give --version V or --daemon"},
		{"unknown clinic", []string{"list", "--clinic", "9"}, 1, nil, "not found"},
		{"unknown subcommand", []string{"remove"}, 2, nil, "unknown subcommand"},
	}
	for _, st := range steps {
		code, out, errs := cli(t, append([]string{"protocol"}, st.args...)...)
		if code != st.code {
			t.Fatalf("%s: exit %d, want %d; stdout %q stderr %q", st.name, code, st.code, out, errs)
		}
		for _, want := range st.stdout {
			if !strings.Contains(out, want) {
				t.Fatalf("%s: stdout lacks %q:\n%s", st.name, want, out)
			}
		}
		if st.name == "nothing stored" && strings.Contains(out, "chemical peel") {
			t.Fatalf("the refused upload was stored:\n%s", out)
		}
		if !strings.Contains(errs, st.stderr) {
			t.Fatalf("%s: stderr %q lacks %q", st.name, errs, st.stderr)
		}
	}
}

// Another clinic neither sees nor switches to a clinic's uploads.
func TestProtocolUploadOtherClinic(t *testing.T) {
	newClinic(t)
	if code, _, errs := cli(t, "clinic", "add", "--name", "Other", "--phone", "+14155550200", "--tz", "America/Chicago",
		"--alert-email", "staff@other.example"); code != 0 {
		t.Fatalf("clinic add: %s", errs)
	}
	if code, out, errs := cli(t, "protocol", "upload", "--clinic", "1", "--activate", examplePeel); code != 0 {
		t.Fatalf("upload: %d %s %s", code, out, errs)
	}
	code, out, _ := cli(t, "protocol", "list", "--clinic", "2")
	if code != 0 || strings.Contains(out, "chemical peel") || !strings.Contains(out, "microneedling (en)") {
		t.Fatalf("clinic 2 list: %d %q", code, out)
	}
	code, _, errs := cli(t, "protocol", "use", "--clinic", "2", "--treatment", "chemical peel", "--language", "en", "--version", "1")
	if code != 1 || !strings.Contains(errs, "no version of its own") {
		t.Fatalf("clinic 2 use of clinic 1's version: %d %q", code, errs)
	}
	code, out, _ = cli(t, "protocol", "list", "--clinic", "1")
	if code != 0 || !strings.Contains(out, "chemical peel (en): the clinic's version 1") {
		t.Fatalf("clinic 1 list after clinic 2 tried: %d %q", code, out)
	}
}
