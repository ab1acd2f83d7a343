package logmask_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aftercare/aftercare/logmask"
)

func TestString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"sent to +14155550123", "sent to +1415*****23"},
		{"The 'To' number +1 (415) 555-0123 is not valid", "The 'To' number +1415*****23 is not valid"},
		{"call 415-555-0123 now", "call 415*****23 now"},
		{"bare 4155550123.", "bare 415*****23."},
		{"whatsapp:+447911123456", "whatsapp:+4479******56"},
		{"550 5.1.1 <ana.diaz@example.com>: no such user", "550 5.1.1 <a***@example.com>: no such user"},
		{"ana@example.com and +14155550123", "a***@example.com and +1415*****23"},
		// Already masked text stays as it is.
		{"a***@example.com +1415*****23", "a***@example.com +1415*****23"},
		// Things that are not contact details are left alone.
		{"retry at 2026-11-25T14:30:00-05:00", "retry at 2026-11-25T14:30:00-05:00"},
		{"2026-11-25 19:30:00 +0000 UTC", "2026-11-25 19:30:00 +0000 UTC"},
		{"Twilio 21610: unsubscribed", "Twilio 21610: unsubscribed"},
		{"accepted by provider as SM0123456789abcdef0123456789abcdef", "accepted by provider as SM0123456789abcdef0123456789abcdef"},
		{"listen 127.0.0.1:8080", "listen 127.0.0.1:8080"},
		{"root@localhost", "root@localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := logmask.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

type address string

type recipient struct{ To, Name string }

func TestHandlerMasksEveryLevelAndShape(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(logmask.Wrap(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := context.Background()

	log.With("to", "+14155550123").WithGroup("send").Debug("debug line for +14155550124", "message_id", 7, "clinic_id", 3)
	log.Info("info", "email", "ana@example.com", "err", errors.New("550 <ana@example.com> rejected"))
	log.Warn("warn", slog.Group("patient", "phone", "+1 415 555 0125", "id", 9))
	log.Error("error", "addr", address("bob@example.org"), "who", recipient{To: "+14155550126", Name: "Bo"},
		"list", []string{"+14155550127"}, "stringer", stringer("call +14155550128"))
	log.LogAttrs(ctx, slog.LevelInfo, "attrs", slog.Any("valuer", valuer{}))

	out := buf.String()
	for _, raw := range []string{"4155550123", "4155550124", "ana@", "4155550125", "bob@", "4155550126", "4155550127", "4155550128", "4155550129"} {
		if strings.Contains(out, raw) {
			t.Errorf("log output contains %q:\n%s", raw, out)
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), out)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	send, _ := first["send"].(map[string]any)
	if first["to"] != "+1415*****23" || first["msg"] != "debug line for +1415*****24" || send["message_id"] != float64(7) || send["clinic_id"] != float64(3) {
		t.Errorf("first line: %s", lines[0])
	}
	for _, want := range []string{`"a***@example.com"`, `"550 <a***@example.com> rejected"`, `"phone":"+1415*****25","id":9`, `"b***@example.org"`, `+1415*****26`, `["+1415*****27"]`, `"call +1415*****28"`, `+1415*****29`} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %s:\n%s", want, out)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("to +14155550129") }

func TestWrapIsIdempotent(t *testing.T) {
	t.Parallel()
	h := logmask.Wrap(slog.NewTextHandler(&bytes.Buffer{}, nil))
	if logmask.Wrap(h) != h {
		t.Fatal("Wrap wrapped a masking handler again")
	}
}

// FuzzString checks that String never panics, never adds digits, and never
// lets a phone number or an email address through, wherever it sits.
func FuzzString(f *testing.F) {
	for _, s := range []string{"+14155550123", "a b@c.de", "415-555-0123 x", "x@y.zz +1 (415) 555-0123", "12345678901234567890"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, before, after string) {
		for _, secret := range []string{"+14155550123", "jane.doe@example.com"} {
			s := before + " " + secret + " " + after
			got := logmask.String(s)
			if digits(got) > digits(s) {
				t.Fatalf("String(%q) = %q adds digits", s, got)
			}
			if strings.Contains(got, secret) {
				t.Fatalf("String(%q) = %q leaks %s", s, got, secret)
			}
		}
	})
}

func digits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// BenchmarkHandler measures the masking overhead per log line, against the
// bare JSON handler: typical dispatcher lines carry ids and a reason.
func BenchmarkHandler(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"bare", slog.NewJSONHandler(io.Discard, nil)},
		{"masked", logmask.Wrap(slog.NewJSONHandler(io.Discard, nil))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(bc.h).With("message_id", 123, "clinic_id", 4, "channel", "sms", "step", "welcome")
			for b.Loop() {
				log.Warn("send failed", "outcome", "retry", "code", "21211", "reason", "invalid number (Twilio 21211: The 'To' number +14155550123 is not valid)")
			}
		})
	}
}

func TestPathMasksPatientPageTokens(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"/c/AbCdEfGhIjKlMnOpQrStUv", "/c/[link]"},
		{"/c/AbCdEfGhIjKlMnOpQrStUv/book", "/c/[link]/book"},
		{"GET https://care.example/c/Ab-d_fGhIjKlMnOpQrStUv?sent=1", "GET https://care.example/c/[link]?sent=1"},
		{"/c/page.css", "/c/page.css"},
		{"/console/inbox", "/console/inbox"},
	}
	for _, tc := range tests {
		if got := logmask.Path(tc.in); got != tc.want {
			t.Errorf("Path(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := logmask.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
