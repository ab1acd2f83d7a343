package aftercare

import (
	"strconv"
	"strings"
	"time"
)

// CheckinAnswer is a patient's answer to a check-in question ("How is your
// skin? Reply 1 if ..."): which question, on which day after the
// treatment, what they answered and what it means.
type CheckinAnswer struct {
	ID           int64 `json:"id"`
	ClinicID     int64 `json:"clinic_id"`
	PatientID    int64 `json:"patient_id"`
	EnrollmentID int64 `json:"enrollment_id"`
	// ReplyID is the patient's text that answered.
	ReplyID int64 `json:"reply_id"`
	// MessageID and Step are the question's text and its outbox step.
	MessageID int64  `json:"message_id"`
	Step      string `json:"step"`
	// Day is the day after the treatment the question was asked on.
	Day int `json:"day"`
	// Answer is "1", "2" or "3"; "" for free text the classifier read.
	Answer string `json:"answer"`
	// Outcome is what the answer means: CheckinHealing, CheckinNotHealing
	// or CheckinRedFlag.
	Outcome string `json:"outcome"`
	// FollowUpID is the follow-up question the answer planned, if any.
	FollowUpID int64     `json:"follow_up_id,omitempty"`
	At         time.Time `json:"at"`
}

// Check-in outcomes.
const (
	CheckinHealing    = "healing"
	CheckinNotHealing = "not_healing"
	CheckinRedFlag    = "red_flag"
)

// CheckinTrend writes answers, oldest first, as a healing trend: "day 1:
// 2, day 2: 1" ("text" for a free-text answer).
func CheckinTrend(answers []CheckinAnswer) string {
	parts := make([]string, len(answers))
	for i, a := range answers {
		v := a.Answer
		if v == "" {
			v = "text"
		}
		parts[i] = "day " + strconv.Itoa(a.Day) + ": " + v
	}
	return strings.Join(parts, ", ")
}

// CheckinMeaning says what an outcome means, in words for clinic staff.
func CheckinMeaning(outcome string) string {
	switch outcome {
	case CheckinHealing:
		return "healing as expected"
	case CheckinNotHealing:
		return "not healing as expected"
	case CheckinRedFlag:
		return "red flag"
	}
	return outcome
}
