package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// TestClinicBookingSecret: the secret is printed once, on the last line;
// a second one needs --rotate, after which both verify; each change is
// audited as the operator, without the secret.
func TestClinicBookingSecret(t *testing.T) {
	db := newClinic(t)
	code, out, errs := cli(t, "clinic", "booking-secret", "--clinic", "1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	first := lines[len(lines)-1]
	if code != 0 || !strings.HasPrefix(first, store.BookingSecretPrefix) || !strings.Contains(out, "/v1/webhooks/booking/1") {
		t.Fatalf("booking-secret: %d %q %q", code, out, errs)
	}
	if code, _, errs := cli(t, "clinic", "booking-secret", "--clinic", "1"); code != 1 || !strings.Contains(errs, "rotate") {
		t.Fatalf("second booking-secret without --rotate: %d %q", code, errs)
	}
	if code, _, _ := cli(t, "clinic", "booking-secret"); code != 2 {
		t.Fatalf("booking-secret without --clinic: exit %d, want 2", code)
	}
	code, out, errs = cli(t, "clinic", "booking-secret", "--clinic", "1", "--rotate")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	second := lines[len(lines)-1]
	if code != 0 || second == first || !strings.Contains(out, "previous secret keeps working until") {
		t.Fatalf("rotate: %d %q %q", code, out, errs)
	}
	ctx := context.Background()
	s, err := store.Open(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.BookingSecrets(ctx, 1); err != nil || len(got) != 2 || got[0] != second || got[1] != first {
		t.Fatalf("stored secrets = %d, %v", len(got), err)
	}
	rows, err := s.AuditLog(ctx, store.AuditFilter{ClinicID: 1, Action: aftercare.AuditBookingSecret})
	if err != nil || len(rows) != 2 || rows[0].Actor.Kind != aftercare.ActorCLI {
		t.Fatalf("audit = %+v, %v", rows, err)
	}
	for _, r := range rows {
		if strings.Contains(r.Detail, first[len(store.BookingSecretPrefix):]) || strings.Contains(r.Detail, second[len(store.BookingSecretPrefix):]) {
			t.Fatalf("audit detail holds a secret: %q", r.Detail)
		}
	}
}
