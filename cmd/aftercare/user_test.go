package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AFTERCARE_DB", filepath.Join(dir, "u.db"))
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	pwFile := func(pw string) string {
		p := filepath.Join(dir, "pw")
		if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if code, _, errs := cli("clinic", "add", "--name", "Glow", "--phone", "+14155550100", "--tz", "America/New_York",
		"--alert-email", "staff@glow.example"); code != 0 {
		t.Fatalf("clinic add: %d %s", code, errs)
	}
	code, _, errs := cli("user", "add", "--clinic", "1", "--email", "boss@glow.example", "--password-file", pwFile("aaaaaaaaaaaaaaaa"))
	if code != 1 || !strings.Contains(errs, "too easy to guess") || !strings.Contains(errs, "repeats") {
		t.Errorf("weak password: %d %q", code, errs)
	}
	if code, out, errs := cli("user", "add", "--clinic", "1", "--email", "boss@glow.example", "--password-file", pwFile("velvet tractor oyster lamp")); code != 0 || !strings.Contains(out, "(admin)") {
		t.Fatalf("first user: %d %q %q", code, out, errs)
	}
	if code, out, errs := cli("user", "add", "--clinic", "1", "--email", "desk@glow.example", "--password-file", pwFile("sapphire kettle morning 89")); code != 0 || !strings.Contains(out, "(staff)") {
		t.Fatalf("second user: %d %q %q", code, out, errs)
	}
	if code, out, _ := cli("user", "disable", "--clinic", "1", "--email", "desk@glow.example"); code != 0 || !strings.Contains(out, "disabled") {
		t.Errorf("disable: %d %q", code, out)
	}
	code, out, _ := cli("user", "list", "--clinic", "1")
	if code != 0 || !strings.Contains(out, "boss@glow.example\tadmin\tactive") || !strings.Contains(out, "desk@glow.example\tstaff\tdisabled") {
		t.Errorf("list: %d\n%s", code, out)
	}
	if code, _, errs := cli("user", "reset-password", "--clinic", "1", "--email", "boss@glow.example", "--password-file", pwFile("password1234")); code != 1 || !strings.Contains(errs, "common password") {
		t.Errorf("reset to a common password: %d %q", code, errs)
	}
	if code, out, _ := cli("user", "reset-password", "--clinic", "1", "--email", "boss@glow.example", "--password-file", pwFile("lantern orchid pebble river")); code != 0 || !strings.Contains(out, "reset") {
		t.Errorf("reset: %d %q", code, out)
	}
	if code, _, errs := cli("user", "remove"); code != 2 || !strings.Contains(errs, "reset-password") {
		t.Errorf("unknown user subcommand: %d %q", code, errs)
	}
	if code, _, errs := cli("user", "disable", "--clinic", "1"); code != 2 || !strings.Contains(errs, "--email") {
		t.Errorf("disable without email: %d %q", code, errs)
	}
	// The audit trail names the operator at the command line, not the daemon.
	s, err := store.Open(context.Background(), filepath.Join(dir, "u.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, a := range []aftercare.AuditAction{aftercare.AuditUserAdded, aftercare.AuditPasswordReset} {
		rows, err := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: 1, Action: a})
		if err != nil || len(rows) == 0 {
			t.Fatalf("no %s audit row: %v", a, err)
		}
		if rows[0].Actor.Kind != aftercare.ActorCLI {
			t.Errorf("%s by %+v, want the CLI", a, rows[0].Actor)
		}
	}
}
