package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

func testTailMessagesAndEventsAfter(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, _, c := Setup(t, drv.Open)
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Other", Phone: "+14155550101", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	Enroll(t, s, c, "+14155550123", 1, 5)
	Enroll(t, s, other, "+14155550124", 1, 2)

	// The newest matching messages, printed oldest first, with the address.
	got, err := s.TailMessages(ctx, store.TailFilter{ClinicID: c.ID, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Message.Occurrence != 2 || got[2].Message.Occurrence != 4 || got[0].To != "+14155550123" {
		t.Fatalf("TailMessages limit 3: %+v", got)
	}
	window, err := s.TailMessages(ctx, store.TailFilter{From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(window) != 2 || window[0].Message.ClinicID == window[1].Message.ClinicID {
		t.Fatalf("every clinic, planned in [t0+1m, t0+2m): %+v", window)
	}

	start, err := s.LastEventID(ctx)
	if err != nil || start == 0 {
		t.Fatalf("LastEventID = %d, %v", start, err)
	}
	claimed, err := s.Claim(ctx, t0.Add(time.Minute), 10, time.Minute)
	if err != nil || len(claimed) != 4 { // two due per clinic
		t.Fatalf("Claim = %d, %v", len(claimed), err)
	}
	var outs []store.Outcome
	for _, cl := range claimed {
		outs = append(outs, store.Outcome{ID: cl.Message.ID, Kind: store.OutcomeSent, At: t0.Add(time.Minute), ProviderID: "SM" + cl.Message.Step})
	}
	if _, err := s.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}

	evs, err := s.EventsAfter(ctx, start, store.TailFilter{ClinicID: c.ID, Status: aftercare.StatusSent})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("sent events of clinic %d after %d: %+v", c.ID, start, evs)
	}
	for _, ev := range evs {
		if ev.Event.ID <= start || ev.Event.To != aftercare.StatusSent || ev.Event.From != aftercare.StatusSending ||
			ev.Message.ClinicID != c.ID || ev.Event.MessageID != ev.Message.ID || ev.To != "+14155550123" || !ev.Event.At.Equal(t0.Add(time.Minute)) {
			t.Errorf("event: %+v", ev)
		}
	}
	all, err := s.EventsAfter(ctx, start, store.TailFilter{Limit: 3})
	if err != nil || len(all) != 3 || all[0].Event.ID != start+1 || all[2].Event.ID != start+3 {
		t.Fatalf("first page of every event after %d: %d, %v", start, len(all), err)
	}
	rest, err := s.EventsAfter(ctx, all[2].Event.ID, store.TailFilter{})
	if err != nil || len(rest) != 5 { // 4 claims + 4 sends, 3 already read
		t.Fatalf("the rest: %d, %v", len(rest), err)
	}
}
