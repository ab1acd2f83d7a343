package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// cli runs the command with AFTERCARE_DB set and returns exit code,
// stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func newClinic(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "c.db")
	t.Setenv("AFTERCARE_DB", db)
	if code, _, errs := cli(t, "clinic", "add", "--name", "Glow", "--phone", "+14155550100", "--tz", "America/New_York",
		"--alert-email", "staff@glow.example"); code != 0 {
		t.Fatalf("clinic add: %d %s", code, errs)
	}
	return db
}

func TestClinicListShowUpdate(t *testing.T) {
	db := newClinic(t)
	code, out, errs := cli(t, "clinic", "list")
	if code != 0 || !strings.Contains(out, "Glow") || !strings.Contains(out, "staff@glow.example") {
		t.Fatalf("clinic list: %d %q %q", code, out, errs)
	}
	code, out, errs = cli(t, "clinic", "update", "1", "--name", "Glow Skin", "--after-hours-phone", "(415) 555-0177",
		"--on-call-phone", "+14155550111", "--booking-url", "https://glow.example/book")
	if code != 0 || !strings.Contains(out, "updated: name booking-url on-call-phone after-hours-phone") {
		t.Fatalf("clinic update: %d %q %q", code, out, errs)
	}
	code, out, _ = cli(t, "clinic", "show", "1")
	for _, want := range []string{"name:", "Glow Skin", "after-hours-phone:", "+14155550177", "on-call-phone:", "+14155550111",
		"booking-url:", "https://glow.example/book", "api keys: 1 working"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("clinic show lacks %q: %d %q", want, code, out)
		}
	}

	// Every problem at once; nothing written.
	code, _, errs = cli(t, "clinic", "update", "1", "--phone", "12", "--tz", "Mars/Base", "--booking-url", "javascript:alert(1)",
		"--reply-to", "not an address")
	for _, want := range []string{"--phone:", "--tz:", "--booking-url:", "--reply-to:"} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Fatalf("clinic update with four bad settings: exit %d, stderr lacks %q: %q", code, want, errs)
		}
	}
	// The last alert route cannot be removed (the on-call phone first, then
	// both at once).
	if code, _, errs := cli(t, "clinic", "update", "1", "--on-call-phone", ""); code != 0 {
		t.Fatalf("removing one of two routes: %d %q", code, errs)
	}
	code, _, errs = cli(t, "clinic", "update", "1", "--alert-email", "")
	if code != 1 || !strings.Contains(errs, "last alert route") {
		t.Fatalf("removing the last alert route: exit %d %q", code, errs)
	}

	s, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := s.Clinic(context.Background(), 1)
	if c.Phone != "+14155550100" || c.AlertEmail != "staff@glow.example" || c.Name != "Glow Skin" || c.OnCallPhone != "" {
		t.Fatalf("clinic after refused updates = %+v", c)
	}
	rows, _ := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: 1, Action: aftercare.AuditSettings})
	if len(rows) != 2 || rows[0].Actor.Kind != aftercare.ActorCLI || rows[0].Detail != "changed on_call_phone" {
		t.Fatalf("settings audit rows = %+v", rows)
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"clinic", "show"}, 2, "clinic id"},
		{[]string{"clinic", "show", "9"}, 1, "not found"},
		{[]string{"clinic", "update", "1"}, 2, "at least one"},
		{[]string{"clinic", "update", "9", "--name", "x"}, 1, "not found"},
		{[]string{"clinic", "update", "1", "--colour", "red"}, 2, "colour"},
	} {
		code, _, errs := cli(t, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.msg) {
			t.Errorf("%q: exit %d %q, want %d mentioning %q", tt.args, code, errs, tt.code, tt.msg)
		}
	}
}

func TestKeyAddListRevoke(t *testing.T) {
	db := newClinic(t)
	code, out, errs := cli(t, "key", "add", "--clinic", "1", "--label", "EHR integration")
	if code != 0 {
		t.Fatalf("key add: %d %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	if !strings.HasPrefix(secret, "ak_") || strings.Contains(secret, " ") {
		t.Fatalf("last line %q is not the key alone", secret)
	}
	s, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ClinicByAPIKey(context.Background(), secret); err != nil {
		t.Fatalf("new key does not authenticate: %v", err)
	}

	code, out, _ = cli(t, "key", "list", "--clinic", "1")
	if code != 0 || !strings.Contains(out, "EHR integration") || !strings.Contains(out, "default") || !strings.Contains(out, secret[:7]) {
		t.Fatalf("key list: %d %q", code, out)
	}
	if strings.Contains(out, secret[7:]) {
		t.Fatal("key list shows the secret")
	}

	if code, _, errs := cli(t, "key", "revoke", "--clinic", "1", "2"); code != 0 {
		t.Fatalf("key revoke: %d %q", code, errs)
	}
	if _, err := s.ClinicByAPIKey(context.Background(), secret); aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
		t.Fatalf("revoked key: %v", err)
	}
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"key", "revoke", "--clinic", "1", "2"}, 1, "already revoked"},
		{[]string{"key", "revoke", "--clinic", "2", "1"}, 1, "not found"},
		{[]string{"key", "revoke", "--clinic", "1"}, 2, "key's ID"},
		{[]string{"key", "add", "--clinic", "1"}, 1, "label"},
		{[]string{"key", "add", "--label", "x"}, 2, "--clinic"},
		{[]string{"key", "list", "--clinic", "7"}, 1, "not found"},
		{[]string{"key", "rotate"}, 2, "usage"},
	} {
		code, _, errs := cli(t, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.msg) {
			t.Errorf("%q: exit %d %q, want %d mentioning %q", tt.args, code, errs, tt.code, tt.msg)
		}
	}
	rows, _ := s.AuditLog(context.Background(), store.AuditFilter{ClinicID: 1})
	if len(rows) != 2 || rows[0].Action != aftercare.AuditKeyRevoked || rows[1].Action != aftercare.AuditKeyCreated ||
		rows[0].Actor.Kind != aftercare.ActorCLI {
		t.Fatalf("audit rows = %+v", rows)
	}
}

// TestClinicPlanningFlags: `clinic add` and `clinic update` set the
// planning settings (language, quiet hours, caps, treatments), `clinic
// show` prints them, an empty value restores the default, and bad values
// are all reported at once, one line per flag, with nothing written.
func TestClinicPlanningFlags(t *testing.T) {
	db := newClinic(t)
	code, out, errs := cli(t, "clinic", "update", "1", "--default-language", "es", "--quiet-hours", "21:00-8:00",
		"--daily-text-cap", "2", "--weekly-text-cap", "10", "--treatments", "Microneedling, ")
	if code != 0 || !strings.Contains(out, "updated: default-language quiet-hours daily-text-cap weekly-text-cap treatments") {
		t.Fatalf("clinic update: %d %q %q", code, out, errs)
	}
	code, out, _ = cli(t, "clinic", "show", "1")
	for _, want := range []string{"default-language:  es", "quiet-hours:  21:00-08:00", "daily-text-cap:  2",
		"weekly-text-cap:  10", "treatments:  microneedling"} {
		if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), "  "), strings.Join(strings.Fields(want), "  ")) {
			t.Fatalf("clinic show lacks %q: %d %q", want, code, out)
		}
	}

	code, _, errs = cli(t, "clinic", "update", "1", "--default-language", "fr", "--quiet-hours", "late",
		"--daily-text-cap", "many", "--weekly-text-cap", "99", "--treatments", "microneedling,botox")
	for _, want := range []string{"--default-language: must be en or es", "--quiet-hours: must be a start and an end",
		"--daily-text-cap: must be a whole number", "--weekly-text-cap: must be 0", `--treatments: no protocol for "botox"`} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Fatalf("bad planning flags: exit %d, stderr lacks %q: %q", code, want, errs)
		}
	}

	if code, out, errs := cli(t, "clinic", "update", "1", "--weekly-text-cap", "", "--treatments", "", "--quiet-hours", ""); code != 0 ||
		!strings.Contains(out, "updated: quiet-hours weekly-text-cap treatments") {
		t.Fatalf("clearing: %d %q %q", code, out, errs)
	}

	// clinic add takes them too, checked with the rest.
	code, _, errs = cli(t, "clinic", "add", "--name", "Peel", "--phone", "+14155550100", "--tz", "Mars/Base",
		"--alert-email", "a@peel.example", "--daily-text-cap", "12", "--treatments", "laser")
	for _, want := range []string{"tz:", "--daily-text-cap:", `--treatments: no protocol for "laser"`} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Fatalf("clinic add with bad settings: exit %d, stderr lacks %q: %q", code, want, errs)
		}
	}
	if code, _, errs := cli(t, "clinic", "add", "--name", "Peel", "--phone", "+14155550100", "--tz", "America/Denver",
		"--alert-email", "a@peel.example", "--default-language", "es", "--daily-text-cap", "1", "--treatments", "microneedling"); code != 0 {
		t.Fatalf("clinic add: %d %q", code, errs)
	}

	s, err := store.Open(context.Background(), db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := s.Clinic(context.Background(), 1)
	if c.DefaultLanguage != "es" || c.DailyTextCap != 2 || c.WeeklyTextCap != 0 || c.QuietHours != "" || len(c.Treatments) != 0 {
		t.Fatalf("clinic 1 = %+v", c.ClinicPlanning)
	}
	c2, _ := s.Clinic(context.Background(), 2)
	if c2.DefaultLanguage != "es" || c2.DailyTextCap != 1 || len(c2.Treatments) != 1 || c2.Treatments[0] != "microneedling" {
		t.Fatalf("clinic 2 = %+v", c2.ClinicPlanning)
	}
}
