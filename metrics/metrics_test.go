package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/metrics"
	"github.com/aftercare/aftercare/store"
)

// counterFunc adapts a function to metrics.Counter.
type counterFunc func(ctx context.Context) (map[aftercare.Status]int, error)

func (f counterFunc) CountByStatus(ctx context.Context) (map[aftercare.Status]int, error) {
	return f(ctx)
}

// serve scrapes m's handler and returns the body.
func serve(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

func hasLine(body, line string) bool {
	for _, l := range strings.Split(body, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func TestHandledRecordsOutcomesLatencyAndErrors(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.Handled(aftercare.SMS, store.OutcomeSent, "", 120*time.Millisecond, -time.Second) // early: counts as on time
	m.Handled(aftercare.SMS, store.OutcomeSent, "", 80*time.Millisecond, 90*time.Minute)
	m.Handled(aftercare.Email, store.OutcomeRetry, "421", 2*time.Second, 0)
	m.Handled(aftercare.SMS, store.OutcomeFailed, "21211", 50*time.Millisecond, 0)
	m.Handled(aftercare.SMS, store.OutcomeFailed, "", 0, 0) // ambiguous look-up error without a code
	m.Handled(aftercare.SMS, store.OutcomeFailed, "not-a-code", time.Millisecond, 0)
	m.Handled(aftercare.SMS, store.OutcomeSkipped, "", 0, 0) // no provider call: no latency
	m.Handled(aftercare.Channel("fax"), store.OutcomeKind("odd"), "", 0, 0)
	body := serve(t, m)
	for _, want := range []string{
		`aftercare_messages_handled_total{channel="sms",outcome="sent"} 2`,
		`aftercare_messages_handled_total{channel="sms",outcome="failed"} 3`,
		`aftercare_messages_handled_total{channel="sms",outcome="skipped"} 1`,
		`aftercare_messages_handled_total{channel="email",outcome="retry"} 1`,
		`aftercare_messages_handled_total{channel="email",outcome="deferred"} 0`,
		`aftercare_messages_handled_total{channel="other",outcome="other"} 1`,
		`aftercare_send_duration_seconds_count{channel="sms"} 4`,
		`aftercare_send_duration_seconds_count{channel="email"} 1`,
		`aftercare_dispatch_lateness_seconds_count{channel="sms"} 2`,
		`aftercare_dispatch_lateness_seconds_bucket{channel="sms",le="0.05"} 1`,
		`aftercare_dispatch_lateness_seconds_bucket{channel="sms",le="3600"} 1`,
		`aftercare_dispatch_lateness_seconds_bucket{channel="sms",le="+Inf"} 2`,
		`aftercare_dispatch_lateness_seconds_sum{channel="sms"} 5400`,
		`aftercare_provider_errors_total{channel="email",code="421"} 1`,
		`aftercare_provider_errors_total{channel="sms",code="21211"} 1`,
		`aftercare_provider_errors_total{channel="sms",code="none"} 1`,
		`aftercare_provider_errors_total{channel="sms",code="other"} 1`,
	} {
		if !hasLine(body, want) {
			t.Errorf("missing %s", want)
		}
	}
	if !strings.Contains(body, "go_goroutines ") || !strings.Contains(body, "process_cpu_seconds_total ") {
		t.Error("Go runtime or process collector missing")
	}
}

func TestLabelsStayBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.WebhookRejected("/webhooks/twilio/status", "bad_signature")
	m.WebhookRejected("/webhooks/twilio/status", strings.Repeat("x", 65))
	m.WebhookRejected("/webhooks/twilio/status", "caf\u00e9")
	m.Receipt("delivered")
	m.Receipt("")
	m.Receipt("whatever")
	body := serve(t, m)
	for _, want := range []string{
		`aftercare_webhook_rejections_total{endpoint="/webhooks/twilio/status",reason="bad_signature"} 1`,
		`aftercare_webhook_rejections_total{endpoint="/webhooks/twilio/status",reason="other"} 2`,
		`aftercare_receipts_total{status="delivered"} 1`,
		`aftercare_receipts_total{status="failed"} 0`,
		`aftercare_receipts_total{status="unknown"} 2`,
	} {
		if !hasLine(body, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestOutboxGaugeCountsAtScrapeTime(t *testing.T) {
	t.Parallel()
	counts := map[aftercare.Status]int{aftercare.StatusScheduled: 12, aftercare.StatusSent: 3}
	last := time.Unix(1795700000, 500_000_000)
	m := metrics.New(metrics.Options{
		Outbox:       counterFunc(func(context.Context) (map[aftercare.Status]int, error) { return counts, nil }),
		LastDispatch: func() time.Time { return last },
	})
	body := serve(t, m)
	for _, want := range []string{
		`aftercare_outbox_messages{status="scheduled"} 12`,
		`aftercare_outbox_messages{status="sent"} 3`,
		`aftercare_outbox_messages{status="cancelled"} 0`,
		`aftercare_outbox_count_errors_total 0`,
		`aftercare_dispatch_last_success_timestamp_seconds 1.7957000005e+09`,
	} {
		if !hasLine(body, want) {
			t.Errorf("missing %s in\n%s", want, body)
		}
	}
	counts[aftercare.StatusScheduled] = 5
	if body := serve(t, m); !hasLine(body, `aftercare_outbox_messages{status="scheduled"} 5`) {
		t.Error("outbox gauge did not follow the store between scrapes")
	}
}

func TestOutboxCountFailureLeavesTheRestServed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		count counterFunc
	}{
		{"error", func(context.Context) (map[aftercare.Status]int, error) { return nil, errors.New("database is locked") }},
		{"timeout", func(ctx context.Context) (map[aftercare.Status]int, error) {
			<-ctx.Done() // a count that never finishes on its own
			return nil, ctx.Err()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.Options{Outbox: tt.count, CountTimeout: 10 * time.Millisecond,
				LastDispatch: func() time.Time { return time.Time{} }})
			body := serve(t, m)
			if strings.Contains(body, "aftercare_outbox_messages{") {
				t.Errorf("outbox gauge served despite a failed count")
			}
			for _, want := range []string{`aftercare_outbox_count_errors_total 1`, `aftercare_dispatch_last_success_timestamp_seconds 0`} {
				if !hasLine(body, want) {
					t.Errorf("missing %s", want)
				}
			}
		})
	}
}
