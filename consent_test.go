package aftercare

import "testing"

// The current consent version has wording, and older versions stay
// retrievable as evidence.
func TestConsentWordings(t *testing.T) {
	t.Parallel()
	cur, ok := ConsentWordingFor(ConsentWordingVersion)
	if !ok || cur.SMS == "" || cur.Email == "" || cur.Intro == "" {
		t.Fatalf("no wording for the current version %s: %+v", ConsentWordingVersion, cur)
	}
	if ws := ConsentWordings(); ws[0].Version != ConsentWordingVersion {
		t.Errorf("newest wording %s, want the current version first", ws[0].Version)
	}
	if old, ok := ConsentWordingFor("2026-11-v1"); !ok || old.Note == "" {
		t.Errorf("version 2026-11-v1 is no longer retrievable: %+v", old)
	}
	seen := map[string]bool{}
	for _, w := range ConsentWordings() {
		if seen[w.Version] {
			t.Errorf("version %s listed twice", w.Version)
		}
		seen[w.Version] = true
	}
	if _, ok := ConsentWordingFor("nope"); ok {
		t.Error("found wording for an unknown version")
	}
	if cur.For(SMS) != cur.SMS || cur.For(Email) != cur.Email {
		t.Error("For returns the wrong channel's words")
	}
}
