package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// CheckinStore is what the console reads of check-in answers, always
// within the session's clinic.
type CheckinStore interface {
	CheckinAnswers(ctx context.Context, clinicID, patientID int64) ([]aftercare.CheckinAnswer, error)
	EnrollmentCheckinAnswers(ctx context.Context, clinicID, enrollmentID int64) ([]aftercare.CheckinAnswer, error)
	NotHealing(ctx context.Context, clinicID int64, now time.Time) ([]store.NotHealingPatient, error)
}

// checkinTrend is a patient's (or an enrollment's) check-in answers for
// the page: the trend in one line ("day 1: 2, day 2: 1") and each answer
// with its meaning in words.
type checkinTrend struct {
	Line    string
	Answers []checkinRow
}

type checkinRow struct {
	aftercare.CheckinAnswer
	Meaning string
}

func newCheckinTrend(as []aftercare.CheckinAnswer) checkinTrend {
	t := checkinTrend{Line: aftercare.CheckinTrend(as)}
	for _, a := range as {
		t.Answers = append(t.Answers, checkinRow{a, aftercare.CheckinMeaning(a.Outcome)})
	}
	return t
}

// checkinsView is the clinic's "not healing as expected" list.
type checkinsView struct {
	Zone     string
	Patients []notHealingRow
	Days     int
}

type notHealingRow struct {
	store.NotHealingPatient
	Meaning string
}

// checkinsPage lists the clinic's patients whose latest check-in answer in
// the last 14 days says they are not healing as expected (or named a red
// flag). Reading the list is recorded as a search is: its size.
func (c *Console) checkinsPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	list, err := c.store.NotHealing(r.Context(), s.ClinicID, c.clock.Now())
	if err != nil {
		return err
	}
	if err := c.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: s.ClinicID, Action: aftercare.AuditSearch,
		Detail: fmt.Sprintf("console check-ins, not healing as expected: %d patients", len(list))}); err != nil {
		return err
	}
	v := checkinsView{Zone: s.Clinic.Timezone, Days: int(store.NotHealingWindow / (24 * time.Hour))}
	for _, p := range list {
		v.Patients = append(v.Patients, notHealingRow{p, aftercare.CheckinMeaning(p.Latest.Outcome)})
	}
	c.render(w, r, http.StatusOK, "checkins", c.view(s, "Check-ins", "checkins", v))
	return nil
}
