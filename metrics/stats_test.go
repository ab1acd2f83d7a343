package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/metrics"
	"github.com/aftercare/aftercare/store"
)

type optOutFunc func(ctx context.Context) ([]store.OptOutCount, error)

func (f optOutFunc) CountOptOuts(ctx context.Context) ([]store.OptOutCount, error) { return f(ctx) }

// TestOutcomeCounters: enrollments count by treatment and source, the
// counters the merger wires (check-in answers, booking-link clicks,
// booking events) count by their label, and free-form labels are bounded:
// odd values and values past the cap become "other".
func TestOutcomeCounters(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.Enrolled("Microneedling ", "api")
	m.Enrolled("microneedling", "api")
	m.Enrolled("Chemical Peel", "console")
	m.Enrolled("Peel for Ana Díaz", "console") // not a label value
	m.CheckInAnswered("healing")
	m.CheckInAnswered("not_healing")
	m.CheckInAnswered("not_healing")
	m.BookingLinkClicked()
	m.BookingLinkClicked()
	m.BookingLinkClicked()
	m.BookingEvent("completed")
	m.BookingEvent("cancelled")
	m.BookingEvent(strings.Repeat("x", 100))
	for i := range 60 {
		m.BookingEvent(fmt.Sprintf("event_%d", i))
	}
	body := serve(t, m)
	for _, line := range []string{
		`aftercare_enrollments_total{source="api",treatment="microneedling"} 2`,
		`aftercare_enrollments_total{source="console",treatment="chemical peel"} 1`,
		`aftercare_enrollments_total{source="console",treatment="other"} 1`,
		`aftercare_checkin_answers_total{outcome="healing"} 1`,
		`aftercare_checkin_answers_total{outcome="not_healing"} 2`,
		`aftercare_booking_link_clicks_total 3`,
		`aftercare_booking_events_total{event="completed"} 1`,
		`aftercare_booking_events_total{event="cancelled"} 1`,
		`aftercare_booking_events_total{event="event_47"} 1`,
		`aftercare_booking_events_total{event="other"} 13`, // the long one, and 12 past the cap of 50
	} {
		if !hasLine(body, line) {
			t.Errorf("missing %s", line)
		}
	}
	if strings.Contains(body, "Ana") || strings.Contains(body, `event="event_48"`) {
		t.Error("an unbounded label value got through")
	}
}

// TestOptOutsCountedAtScrape: opt-outs come from the store at scrape
// time, by channel and method; a failing count leaves them out and the
// rest is still served.
func TestOptOutsCountedAtScrape(t *testing.T) {
	t.Parallel()
	fail := false
	m := metrics.New(metrics.Options{OptOuts: optOutFunc(func(ctx context.Context) ([]store.OptOutCount, error) {
		if fail {
			return nil, errors.New("database is locked")
		}
		return []store.OptOutCount{{Channel: aftercare.SMS, Method: aftercare.ConsentSMSReply, Count: 4},
			{Channel: aftercare.Email, Method: aftercare.ConsentLink, Count: 1}}, nil
	})})
	body := serve(t, m)
	for _, line := range []string{
		`aftercare_opt_outs_total{channel="sms",method="sms_reply"} 4`,
		`aftercare_opt_outs_total{channel="email",method="unsubscribe_link"} 1`,
	} {
		if !hasLine(body, line) {
			t.Errorf("missing %s", line)
		}
	}
	fail = true
	if body := serve(t, m); strings.Contains(body, "aftercare_opt_outs_total{") || !hasLine(body, "aftercare_booking_link_clicks_total 0") {
		t.Errorf("after a failed count:\n%s", body)
	}
}
