package app_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// logSetup is a daemon on a virtual clock with the console notifier, two
// clinics and one enrolled patient each, the first one's welcome messages
// already delivered.
type logSetup struct {
	cfg    *config.Config
	app    *app.App
	clock  *testsupport.Clock
	clinic [2]aftercare.Clinic
	now    time.Time
}

func newLogSetup(t *testing.T) *logSetup {
	t.Helper()
	ctx := context.Background()
	treated := time.Date(2026, 11, 25, 19, 30, 0, 0, time.UTC)
	d := testsupport.StartDaemon(t, testsupport.DaemonOptions{Start: treated.Add(5 * time.Minute), NoProviders: true})
	a, cfg, clock := d.App, d.App.Config, d.Clock
	s := &logSetup{cfg: cfg, app: a, clock: clock, now: clock.Now()}
	for i, name := range []string{"Glow Clinic", "Other Clinic"} {
		c, _, err := a.Store.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: name, Phone: "+14155550111", Timezone: "America/New_York"})
		if err != nil {
			t.Fatal(err)
		}
		s.clinic[i] = c
		_, _, err = a.Enroll.Enroll(ctx, c, enroll.Request{FirstName: "Ana", LastName: "Diaz", Phone: "+1415555012" + string(rune('3'+i)),
			Email: "ana@example.com", Timezone: "America/New_York", SMSConsent: true, EmailConsent: true,
			TreatedAt: treated.Format(time.RFC3339), SessionNumber: 1, SeriesLength: 3}, "")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := a.Dispatcher.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

func (s *logSetup) run(t *testing.T, o app.LogOptions) []string {
	t.Helper()
	var out bytes.Buffer
	o.Location, _ = time.LoadLocation("America/New_York")
	o.Now = func() time.Time { return s.now }
	if err := app.RunLog(context.Background(), &out, s.cfg, o); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

func TestLogListsMessagesWithFilters(t *testing.T) {
	t.Parallel()
	s := newLogSetup(t)
	c1 := s.clinic[0].ID

	all := s.run(t, app.LogOptions{ClinicID: c1, Limit: 1000})
	if !strings.HasPrefix(all[0], "TIME") || len(all) < 20 {
		t.Fatalf("log of clinic %d: %d lines\n%s", c1, len(all), strings.Join(all, "\n"))
	}
	for _, l := range all[1:] {
		if strings.Contains(l, "4155550123") || strings.Contains(l, "ana@") {
			t.Errorf("unmasked recipient: %q", l)
		}
		if !strings.Contains(l, "+1415*****23") && !strings.Contains(l, "a***@example.com") {
			t.Errorf("line without the masked recipient: %q", l)
		}
	}

	sent := s.run(t, app.LogOptions{ClinicID: c1, Status: "sent"})
	if len(sent) != 3 { // header + welcome text + full-guide email
		t.Fatalf("--status sent: %q", sent)
	}
	if !strings.Contains(sent[1], "2026-11-25 14:35:00 EST") || !strings.Contains(sent[1], "welcome") {
		t.Errorf("sent line (local time, step): %q", sent[1])
	}
	sms := s.run(t, app.LogOptions{ClinicID: c1, Status: "sent", Channel: "sms"})
	if len(sms) != 2 || !strings.Contains(sms[1], " sms ") || !strings.Contains(sms[1], "+1415*****23") {
		t.Errorf("--status sent --channel sms: %q", sms)
	}
	step := s.run(t, app.LogOptions{ClinicID: c1, Step: "sunscreen"})
	if len(step) < 10 {
		t.Errorf("--step sunscreen: %d lines", len(step))
	}
	for _, l := range step[1:] {
		if !strings.Contains(l, "sunscreen#") {
			t.Errorf("--step sunscreen printed %q", l)
		}
	}
	// Durations count back from now; +D counts ahead.
	window := s.run(t, app.LogOptions{ClinicID: c1, Since: "1h", Until: "+1h"})
	if len(window) != 3 {
		t.Errorf("--since 1h --until +1h (planned within the hour): %q", window)
	}
	limited := s.run(t, app.LogOptions{ClinicID: c1, Limit: 2})
	if len(limited) != 3 {
		t.Errorf("--limit 2: %d lines", len(limited))
	}
	if !strings.Contains(limited[2], "#"+strings.TrimSpace(lastID(all))) {
		t.Errorf("--limit 2 should end with the newest message %s: %q", lastID(all), limited)
	}

	every := s.run(t, app.LogOptions{All: true, Status: "scheduled", Limit: 10000})
	clinics := map[string]bool{}
	for _, l := range every[1:] {
		f := strings.Fields(l)
		clinics[f[3]] = true // date, time, zone, clinic
	}
	if len(clinics) != 2 {
		t.Errorf("--all shows clinics %v, want both", clinics)
	}
	empty := s.run(t, app.LogOptions{ClinicID: c1, Status: "delivered"})
	if len(empty) != 2 || empty[1] != "(no messages match)" {
		t.Errorf("no match: %q", empty)
	}
}

func lastID(lines []string) string {
	f := strings.Fields(lines[len(lines)-1])
	return strings.TrimPrefix(f[3], "#")
}

func TestLogRefusesBadOptions(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DB = filepath.Join(t.TempDir(), "missing.db")
	for _, tt := range []struct {
		o    app.LogOptions
		want string
	}{
		{app.LogOptions{}, "--clinic"},
		{app.LogOptions{ClinicID: 1, All: true}, "not both"},
		{app.LogOptions{ClinicID: 1, Status: "lost"}, "--status"},
		{app.LogOptions{ClinicID: 1, Channel: "fax"}, "--channel"},
		{app.LogOptions{ClinicID: 1, Since: "yesterday"}, "--since"},
		{app.LogOptions{ClinicID: 1, Until: "-3h"}, "--until"},
		{app.LogOptions{ClinicID: 1, Since: "1h", Until: "2h"}, "before --until"},
		{app.LogOptions{ClinicID: 1}, "missing.db"},
	} {
		err := app.RunLog(context.Background(), io.Discard, cfg, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("RunLog(%+v) = %v, want an error about %s", tt.o, err, tt.want)
		}
	}
}

// signalWriter collects lines and reports each one on a channel.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // partial: keep for the next write
			break
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
	return len(p), nil
}

func TestLogFollowPrintsNewEventsUntilCancelled(t *testing.T) {
	t.Parallel()
	s := newLogSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &signalWriter{lines: make(chan string, 1000)}
	done := make(chan error, 1)
	go func() {
		done <- app.RunLog(ctx, w, s.cfg, app.LogOptions{ClinicID: s.clinic[0].ID, Channel: "sms", Follow: true,
			Interval: 5 * time.Millisecond, Location: time.UTC, Limit: 1})
	}()
	next := func() string {
		t.Helper()
		select {
		case l := <-w.lines:
			return l
		case err := <-done:
			t.Fatalf("RunLog returned early: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no log line in 10s")
		}
		return ""
	}
	for l := next(); !strings.HasPrefix(l, "-- following"); l = next() {
	}

	// The evening-care text (20:00 local) goes out: its claim and its send
	// are two events. The other clinic's messages are filtered out.
	s.clock.Set(time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC))
	if _, err := s.app.Dispatcher.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		got = append(got, next())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunLog after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunLog did not stop after cancel")
	}
	if !strings.Contains(got[0], " sending ") || !strings.Contains(got[1], " sent ") || !strings.Contains(got[1], "accepted by provider") {
		t.Errorf("followed events: %q", got)
	}
	for _, l := range got {
		if !strings.Contains(l, "2026-11-26 01:00:00 UTC") || !strings.Contains(l, "+1415*****23") || !strings.Contains(l, " sms ") {
			t.Errorf("event line (time, recipient, channel): %q", l)
		}
	}
	select {
	case extra := <-w.lines:
		t.Errorf("more lines than the two events of clinic 1's texts: %q", extra)
	default:
	}
}
