package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// CreateEnrollment answers a new patient's enrollment with the view it
// wrote instead of reading it back: it must be exactly what Enrollment
// reads.
func testCreatedViewIsWhatIsStored(t *testing.T, drv Driver) {
	t.Parallel()
	s, clock, c := Setup(t, drv.Open)
	clock.Set(t0.Add(7654321 * time.Nanosecond)) // the store's now, not on a millisecond
	at := t0.Add(1234567 * time.Microsecond)     // nor the plan's times
	plan := func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
		return []aftercare.Message{
			{Step: "later", Channel: aftercare.Email, SendAt: at.Add(time.Hour), StaleAt: at.Add(2 * time.Hour),
				Status: aftercare.StatusScheduled, Subject: "Day 1", Body: "text", HTMLBody: "<p>html</p>"},
			{Step: "first", Channel: aftercare.SMS, SendAt: at, StaleAt: at.Add(time.Hour), Status: aftercare.StatusScheduled,
				Body: "hello", NextAttemptAt: at.Add(time.Minute)},
			{Step: "skipped", Channel: aftercare.SMS, SendAt: at, StaleAt: at, Status: aftercare.StatusSkipped,
				Reason: "stale: enrolled after the step's window closed", Body: "late"},
			{Step: "alert", Occurrence: 3, Channel: aftercare.SMS, SendAt: at.Add(time.Hour), StaleAt: at.Add(3 * time.Hour),
				Status: aftercare.StatusScheduled, Body: "staff", Recipient: "+14155550199", Urgent: true},
		}, nil
	}
	for _, tc := range []struct {
		name    string
		session int
	}{{"new patient", 1}, {"returning patient", 2}} {
		v, created, err := s.CreateEnrollment(context.Background(), store.NewEnrollment{
			Patient: aftercare.Patient{ClinicID: c.ID, FirstName: "Ana", LastName: "Diaz", Phone: "+14155550123",
				Email: "ana@example.com", Timezone: "America/New_York"},
			Enrollment: aftercare.Enrollment{ClinicID: c.ID, Treatment: "microneedling", TreatedAt: at, SessionNumber: tc.session,
				SeriesLength: 3, ExternalRef: "visit-" + tc.name},
			Consents: []aftercare.Consent{
				{Channel: aftercare.Email, Granted: true, Method: aftercare.ConsentFrontDesk, WordingVersion: "v1"},
				{Channel: aftercare.SMS, Granted: true, At: at.Add(-time.Minute), Method: aftercare.ConsentAPI, WordingVersion: "v1", Detail: "d"},
			},
			Plan: plan,
		})
		if err != nil || !created {
			t.Fatalf("%s: CreateEnrollment = created %v, %v", tc.name, created, err)
		}
		stored, err := s.Enrollment(context.Background(), c.ID, v.Enrollment.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v, stored) {
			t.Errorf("%s: the view CreateEnrollment answered differs from the stored one:\n got %+v\nwant %+v", tc.name, v, stored)
		}
		if len(v.Messages) != 4 || len(v.Consents) < 2 || len(v.Messages[0].Events) != 1 {
			t.Errorf("%s: view has %d messages, %d consents", tc.name, len(v.Messages), len(v.Consents))
		}
	}
}
