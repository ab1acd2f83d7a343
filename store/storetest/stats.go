package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// enrollAt enrolls the patient with phone at clinic c for a treatment
// treated at treated, with SMS consent and n texts planned (see plan).
func enrollAt(t *testing.T, s *store.Store, c aftercare.Clinic, phone, treatment string, treated time.Time, session, series, n int) store.EnrollmentView {
	t.Helper()
	v, created, err := s.CreateEnrollment(context.Background(), store.NewEnrollment{
		Patient:    aftercare.Patient{ClinicID: c.ID, FirstName: "Pat", LastName: "Lee", Phone: phone, Timezone: "America/New_York"},
		Enrollment: aftercare.Enrollment{Treatment: treatment, TreatedAt: treated, SessionNumber: session, SeriesLength: series},
		Consents:   []aftercare.Consent{{Channel: aftercare.SMS, Granted: true, Method: aftercare.ConsentAPI, WordingVersion: aftercare.ConsentWordingVersion}},
		Plan:       plan(n),
	})
	if err != nil || !created {
		t.Fatalf("CreateEnrollment = %v, %v", created, err)
	}
	return v
}

// testStatsPerWeekAndTreatment: a clinic's outcomes are counted per week
// (Monday in the clinic's zone) and treatment of the enrollments, with
// what happened to each since: texts delivered and failed (per reason),
// opt-outs, replies, red flags and their acknowledgement, rebooking.
// Another clinic's enrollments and enrollments outside the range are not
// counted.
func testStatsPerWeekAndTreatment(t *testing.T, drv Driver) {
	t.Parallel()
	ctx := context.Background()
	s, clock, c := Setup(t, drv.Open)
	other, _, err := s.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "x@other.example", Name: "Other", Phone: "+14155550199", Timezone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	// t0 is Wednesday 25 November 2026, 10:00 in New York.
	ana := enrollAt(t, s, c, "+14155550101", "Microneedling", t0, 1, 3, 2)
	bea := enrollAt(t, s, c, "+14155550102", "Microneedling", t0.Add(time.Hour), 1, 3, 2)
	enrollAt(t, s, c, "+14155550103", "Microneedling", t0.AddDate(0, 0, -30), 1, 3, 2) // before the range
	enrollAt(t, s, other, "+14155550104", "Microneedling", t0, 1, 3, 2)                // another clinic

	// Texts: Ana's first delivered, her second failed; Bea's first sent
	// (no receipt yet), her second failed.
	clock.Set(t0.Add(10 * time.Minute))
	claimed, err := s.Claim(ctx, clock.Now(), 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var outs []store.Outcome
	delivered := ""
	for _, cl := range claimed {
		m := cl.Message
		if cl.Clinic.ID != c.ID {
			outs = append(outs, store.Outcome{ID: m.ID, Kind: store.OutcomeSent, At: clock.Now(), ProviderID: "SMo"})
			continue
		}
		pid := "SM" + itoa(m.ID)
		if m.Occurrence == 0 {
			outs = append(outs, store.Outcome{ID: m.ID, Kind: store.OutcomeSent, At: clock.Now(), ProviderID: pid})
			if m.EnrollmentID == ana.Enrollment.ID {
				delivered = pid
			}
			continue
		}
		outs = append(outs, store.Outcome{ID: m.ID, Kind: store.OutcomeFailed, At: clock.Now(), ProviderID: pid,
			ErrorCode: "21211", Error: "invalid To", Reason: "not a valid phone number"})
	}
	if _, err := s.Record(ctx, outs); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ApplyReceipt(ctx, store.Receipt{ProviderID: delivered, Status: aftercare.StatusDelivered, At: clock.Now()}); err != nil {
		t.Fatal(err)
	}

	// Bea replies STOP; Ana says thanks, then reports a red flag that
	// staff acknowledge 30 minutes later.
	reply := func(p aftercare.Patient, id, kind string, optOut bool) {
		t.Helper()
		if _, err := s.RecordReplyOutcome(ctx, store.InboundReply{OptOut: optOut,
			Reply: aftercare.Reply{ClinicID: p.ClinicID, PatientID: p.ID, ProviderID: id, Body: "x", Kind: kind, At: clock.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	reply(bea.Patient, "SMr1", "stop", true)
	reply(ana.Patient, "SMr2", "other", false)
	clock.Set(t0.Add(20 * time.Minute))
	d := file(t, s, ana.Patient, 3, "very swollen", true, false, clock.Now())
	clock.Set(t0.Add(50 * time.Minute))
	if err := s.AcknowledgeConcern(ctx, c.ID, d.Concern.ID, "nurse@glow.example"); err != nil {
		t.Fatal(err)
	}

	// Ana clicks her booking link twice, Bea once; Ana's booking system
	// says she booked and then cancelled an appointment (her enrollment's
	// events); the other clinic's click is not this clinic's.
	for _, e := range []store.EnrollmentView{ana, ana, bea} {
		if err := s.RecordBookingClick(ctx, c.ID, e.Enrollment.ID, clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i, ev := range []string{aftercare.BookingBooked, aftercare.BookingCancelled} {
		if _, _, err := s.ApplyBooking(ctx, store.BookingChange{ClinicID: c.ID, AppointmentID: "apt-1", Event: ev,
			OccurredAt: clock.Now().Add(time.Duration(i) * time.Minute), StartsAt: t0.AddDate(0, 0, 30), Phone: "+14155550101",
			Steps: []string{"book_next"}}); err != nil {
			t.Fatal(err)
		}
	}

	// Ana's next session a week later (within 6 weeks), and a single
	// lip filler session the same week.
	clock.Set(t0.Add(2 * time.Hour))
	enrollAt(t, s, c, "+14155550101", "Microneedling", t0.AddDate(0, 0, 7), 2, 3, 1)
	enrollAt(t, s, c, "+14155550105", "Lip filler", t0.AddDate(0, 0, 8), 1, 1, 0)

	ny, _ := time.LoadLocation("America/New_York")
	weekA := time.Date(2026, 11, 23, 0, 0, 0, 0, ny)
	weekB := time.Date(2026, 11, 30, 0, 0, 0, 0, ny)
	st, err := s.Stats(ctx, c.ID, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Weeks) != 2 || !st.Weeks[0].Equal(weekA) || !st.Weeks[1].Equal(weekB) {
		t.Fatalf("weeks = %v", st.Weeks)
	}
	failures := []store.ReasonCount{{Reason: "not a valid phone number", Count: 2}}
	want := []store.StatsRow{
		{Week: weekA, Treatment: "Microneedling", Enrollments: 2, Patients: 2,
			SMS:        store.ChannelStats{Planned: 4, Sent: 1, Delivered: 1, Failed: 2, Failures: failures},
			OptOutsSMS: 1, Replies: 2, RedFlags: 1, Acks: []time.Duration{30 * time.Minute},
			SeriesOpen: 2, Rebooked: 1, RebookPending: 1,
			BookingClicks: 3, BookingClickers: 2, AppointmentsBooked: 1, AppointmentsCancelled: 1},
		{Week: weekB, Treatment: "Lip filler", Enrollments: 1, Patients: 1},
		{Week: weekB, Treatment: "Microneedling", Enrollments: 1, Patients: 1,
			SMS: store.ChannelStats{Planned: 1}, SeriesOpen: 1, RebookPending: 1},
	}
	if len(st.Rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(st.Rows), len(want), st.Rows)
	}
	for i := range want {
		got := st.Rows[i]
		if !got.Week.Equal(want[i].Week) {
			t.Errorf("row %d week %v, want %v", i, got.Week, want[i].Week)
		}
		got.Week = want[i].Week
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	r := st.Rows[0]
	if rate, ok := r.SMS.DeliveredRate(); !ok || rate != 0.25 {
		t.Errorf("delivered rate = %v, %v; want 0.25", rate, ok)
	}
	if rate, ok := r.OptOutRate(aftercare.SMS); !ok || rate != 0.5 {
		t.Errorf("opt-out rate = %v, %v; want 0.5", rate, ok)
	}
	if rate, ok := r.RebookRate(); !ok || rate != 0.5 {
		t.Errorf("rebook rate = %v, %v; want 0.5", rate, ok)
	}
	if m, ok := r.AckMedian(); !ok || m != 30*time.Minute {
		t.Errorf("ack median = %v, %v", m, ok)
	}
	weeks := st.ByWeek("")
	if len(weeks) != 2 || weeks[1].Enrollments != 2 || weeks[0].Enrollments != 2 {
		t.Errorf("by week = %+v", weeks)
	}

	// Six weeks on, Bea's window has closed: no longer pending.
	clock.Set(t0.Add(store.RebookWindow + 2*time.Hour))
	st, err = s.Stats(ctx, c.ID, weekA, weekA.AddDate(0, 0, 6))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rows) != 1 || st.Rows[0].RebookPending != 0 || st.Rows[0].Rebooked != 1 {
		t.Errorf("after six weeks: %+v", st.Rows)
	}

	// The other clinic sees only its own enrollment.
	st, err = s.Stats(ctx, other.ID, weekA, weekB)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rows) != 1 || st.Rows[0].Enrollments != 1 || st.Rows[0].SMS.Planned != 2 || st.Rows[0].Replies != 0 {
		t.Errorf("other clinic: %+v", st.Rows)
	}

	// The metrics count the opt-outs patients made (Bea's STOP), not the
	// consents given at enrollment.
	if got, err := s.CountOptOuts(ctx); err != nil || len(got) != 1 ||
		got[0] != (store.OptOutCount{Channel: aftercare.SMS, Method: aftercare.ConsentSMSReply, Count: 1}) {
		t.Errorf("CountOptOuts = %+v, %v", got, err)
	}

	// A range that ends before it starts, or is too long, is refused.
	for _, bad := range [][2]time.Time{{weekB, weekA}, {weekA, weekA.AddDate(3, 0, 0)}} {
		if _, err := s.Stats(ctx, c.ID, bad[0], bad[1]); aftercare.ErrorCode(err) != aftercare.EINVALID {
			t.Errorf("Stats(%v, %v) = %v, want EINVALID", bad[0], bad[1], err)
		}
	}
}
