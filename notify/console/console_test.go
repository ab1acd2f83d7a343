package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/console"
)

var now = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

var (
	sms = notify.Message{
		ID: 42, Channel: aftercare.SMS, Step: "sunscreen", To: "+14155550123", Attempt: 1,
		Body: "Glow Clinic: apply SPF 50 \"every\" morning.\nReply STOP to opt out.",
	}
	email = notify.Message{
		ID: 43, Channel: aftercare.Email, Step: "day1", To: "jane.doe@example.com", ToName: "Jane Doe", Attempt: 2,
		Subject: "Day 1 <care>", Body: strings.Repeat("Long body. ", 30), HTMLBody: "<p>Hi</p>",
		Attachments: []notify.Attachment{{Name: "session-2.ics"}},
	}
)

func TestTextFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    notify.Message
		want string
	}{
		{
			name: "sms",
			m:    sms,
			want: `2026-11-25T09:00:00Z SMS   to +1415*****23 [sunscreen] msg=42 "Glow Clinic: apply SPF 50 \"every\" morning.\nReply STOP to opt out."` + "\n",
		},
		{
			name: "email",
			m:    email,
			want: `2026-11-25T09:00:00Z EMAIL to j***@example.com [day1] msg=43 attempt=2 subject="Day 1 <care>" attachment="session-2.ics" "` +
				strings.Repeat("Long body. ", 14) + `Long …"` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			s := console.New(&buf, "text", clock)
			id, err := s.Send(t.Context(), tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if want := "console-" + strings.TrimPrefix(strings.Fields(tt.want)[5], "msg="); id != want {
				t.Errorf("id = %q, want %q", id, want)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestJSONFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := console.New(&buf, "json", clock)
	for _, m := range []notify.Message{sms, email} {
		if _, err := s.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	type line struct {
		ID         int64     `json:"id"`
		ProviderID string    `json:"provider_id"`
		Channel    string    `json:"channel"`
		Step       string    `json:"step"`
		To         string    `json:"to"`
		Subject    string    `json:"subject"`
		Body       string    `json:"body"`
		SentAt     time.Time `json:"sent_at"`
	}
	want := []line{
		{42, "console-42", "sms", "sunscreen", "+1415*****23", "", sms.Body, now},
		{43, "console-43", "email", "day1", "j***@example.com", "Day 1 <care>", email.Body, now},
	}
	for i, l := range lines {
		var got line
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		if got != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, got, want[i])
		}
		if strings.Contains(l, "+14155550123") || strings.Contains(l, "jane.doe@") {
			t.Errorf("line %d leaks the address: %s", i, l)
		}
	}
}

func TestConcurrentSendsWriteWholeLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := console.New(&buf, "json", nil)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			m := sms
			m.ID = int64(i)
			if _, err := s.Send(context.Background(), m); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("got %d lines", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("interleaved line: %s", l)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestSendFailures(t *testing.T) {
	t.Parallel()
	_, err := console.New(failingWriter{}, "text", clock).Send(t.Context(), sms)
	if ne := notify.Classify(err); ne.Kind != notify.Transient {
		t.Errorf("write failure: %#v", ne)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var buf bytes.Buffer
	_, err = console.New(&buf, "text", clock).Send(ctx, sms)
	if ne := notify.Classify(err); ne.Kind != notify.Transient || !errors.Is(err, context.Canceled) || buf.Len() != 0 {
		t.Errorf("cancelled: %#v, wrote %q", ne, buf.String())
	}
}

// The console sender is a notify.Sender.
var _ notify.Sender = (*console.Sender)(nil)
