package protocol

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// Input is everything the planner needs about one enrollment.
type Input struct {
	// Enrollment gives TreatedAt, SessionNumber, SeriesLength and the ids
	// copied to each message (ID may be 0 before it is stored).
	Enrollment aftercare.Enrollment
	// Patient gives FirstName, Timezone, Email, Phone, the opt-outs and the
	// bad-address flags. An empty Timezone falls back to the clinic's.
	Patient aftercare.Patient
	// Clinic gives Name, Phone, BookingURL and the fallback Timezone.
	Clinic aftercare.Clinic
	// SMSConsent and EmailConsent say whether the patient has granted each
	// channel.
	SMSConsent, EmailConsent bool
	// CareURL is the patient's page link (Data.CareURL); empty for none.
	CareURL string
}

// Options tune a plan.
type Options struct {
	// Quiet is the window in which no SMS goes out; the zero value means
	// DefaultQuietHours. Any other QuietHours with Start == End, such as
	// {1, 1}, means no quiet hours at all.
	Quiet QuietHours
	// DailyCap is the most scheduled texts in one local day: 0 means
	// aftercare.DefaultDailyTextCap, a negative value no cap (to see a
	// protocol's raw plan). WeeklyCap is the most in any 7 local days; 0
	// or negative means none. When a day would exceed a cap, the
	// lowest-priority text merges into the day's other text (if its
	// step has a merge line) or is skipped with the reason "frequency
	// cap". Red-flag texts are never capped.
	DailyCap, WeeklyCap int
}

// Skip reasons, shown to clinic staff.
const (
	reasonStaleAtEnrollment = "stale: enrolled after the step's window closed"
	reasonStaleBeforeSend   = "stale: the step's window closes before its send time"
	reasonCoveredByLate     = "covered by the late-start text the same day, which names the warning signs and what still applies"
)

// Plan returns the messages of an enrollment enrolled at now: one per step,
// channel and occurrence (the day number of a daily step, else 0), sorted
// by send time and then protocol order. Times are UTC; NextAttemptAt equals
// SendAt.
//
// The rules, from AFTERCARE-PHASES.md:
//   - "day N" is the Nth calendar day after the treatment's local date in
//     the patient's zone, and wall-clock times stay put across
//     daylight-saving changes (a time that does not exist moves forward to
//     the first valid minute);
//   - a step whose send time has passed but is not stale goes out at now;
//   - an SMS never goes out in quiet hours: it moves to the next allowed
//     minute;
//   - a message that cannot go out before its stale time, or whose channel
//     the patient has not consented to, opted out of, or cannot receive on,
//     is planned as skipped with a short reason;
//   - a step whose conditions (When) do not hold is not planned at all;
//   - the first text of a plan is the protocol's opening red_flags step
//     (the welcome); when any other text would come first, the enrollment
//     is late, its late steps (When.Late) are planned to go out at
//     enrollment, and other red_flags texts the same day are skipped as
//     covered;
//   - an sms_fallback step is texted only when its email cannot go;
//   - the first scheduled SMS ends with the protocol's opt-out notice.
//
// Skipped messages carry the time they were due (their send time, or now
// if that has passed), before any move out of quiet hours.
//
// Invalid input is an *aftercare.Error (EINVALID) naming the field:
// timezone, treated_at, series_length, session_number or quiet_hours. A
// template that fails on this patient's data (possible only in a custom
// protocol) is a plain error.
func (p *Protocol) Plan(in Input, opt Options, now time.Time) ([]aftercare.Message, error) {
	return p.plan(in, opt, now, true)
}

// plan is Plan; render false leaves the messages' texts empty (for
// counting).
func (p *Protocol) plan(in Input, opt Options, now time.Time, render bool) ([]aftercare.Message, error) {
	loc, err := location(in)
	if err != nil {
		return nil, err
	}
	e := in.Enrollment
	switch {
	case e.TreatedAt.IsZero():
		return nil, aftercare.FieldError("treated_at", "missing")
	case e.SeriesLength < 1:
		return nil, aftercare.FieldError("series_length", "must be 1 or more, not %d", e.SeriesLength)
	case e.SessionNumber < 1 || e.SessionNumber > e.SeriesLength:
		return nil, aftercare.FieldError("session_number", "must be between 1 and the series length %d, not %d", e.SeriesLength, e.SessionNumber)
	}
	quiet := opt.Quiet
	if quiet == (QuietHours{}) {
		quiet = DefaultQuietHours
	}
	if !quiet.Valid() {
		return nil, aftercare.FieldError("quiet_hours", "%d-%d is not a window of minutes within a day", quiet.Start, quiet.End)
	}

	c := clock{treated: e.TreatedAt.In(loc), loc: loc}
	skip := map[aftercare.Channel]string{
		aftercare.SMS:   smsBlocked(in),
		aftercare.Email: emailBlocked(in),
	}
	data := newData(in, loc)
	data.setLanguage(p.Language)
	data.EmailOK = skip[aftercare.Email] == ""
	// An enrollment made ahead of the treatment counts from the treatment.
	enrolled := now
	if enrolled.Before(e.TreatedAt) {
		enrolled = e.TreatedAt
	}

	var out []planned
	place := func(order int, s *Step) {
		first, last := 0, 0
		if s.at.kind == daily {
			first, last = s.at.n, s.at.last
		}
		for occ := first; occ <= last; occ++ {
			nominal := c.sendAt(s.at, occ)
			for ci, ch := range s.Channels {
				if ch == aftercare.SMS && s.SMSFallback && data.EmailOK {
					continue // the email carries it
				}
				st := s.stale
				if ch == aftercare.Email {
					st = s.emailStale
				}
				stale := c.staleAt(st, nominal)
				due := nominal
				if due.Before(now) {
					due = now
				}
				send, timing := fit(due, stale, ch, quiet, now, loc)
				pl := planned{order: order, channel: ci, step: s, nominal: nominal, due: due, timing: timing}
				pl.Message = aftercare.Message{
					EnrollmentID: e.ID,
					ClinicID:     e.ClinicID,
					PatientID:    e.PatientID,
					Step:         s.Key,
					Occurrence:   occ,
					Channel:      ch,
					SendAt:       send.UTC(),
					StaleAt:      stale.UTC(),
					Status:       aftercare.StatusScheduled,
				}
				if reason := cmp.Or(skip[ch], timing); reason != "" {
					pl.Status, pl.Reason, pl.SendAt = aftercare.StatusSkipped, reason, due.UTC()
				}
				out = append(out, pl)
			}
		}
	}
	for order, s := range p.steps {
		if !s.When.Late && s.When.hold(e, c, enrolled) {
			place(order, &p.steps[order])
		}
	}
	sortPlan(out)
	if p.late(out) {
		n := len(out)
		for order, s := range p.steps {
			if s.When.Late && s.When.hold(e, c, enrolled) {
				place(order, &p.steps[order])
			}
		}
		// The late text names the red flags and says what applies on its
		// day: another red-flag text that day would repeat it, and a text
		// meant for an earlier day ("makeup again now", two days on) is
		// behind it.
		for _, l := range out[n:] {
			if l.Channel != aftercare.SMS || l.Status != aftercare.StatusScheduled {
				continue
			}
			day := dayNumber(c, l.SendAt)
			for i := range out[:n] {
				m := &out[i]
				if m.Channel != aftercare.SMS || m.Status != aftercare.StatusScheduled || dayNumber(c, m.SendAt) != day {
					continue
				}
				if m.step.RedFlags || !m.step.Daily() && dayNumber(c, m.nominal) < day {
					m.Status, m.Reason, m.SendAt = aftercare.StatusSkipped, reasonCoveredByLate, m.due.UTC()
				}
			}
		}
		sortPlan(out)
	}

	var merges map[aftercare.MessageKey][]planned
	if opt.DailyCap >= 0 || opt.WeeklyCap > 0 {
		merges = capTexts(out, c, opt)
		sortPlan(out)
	}

	msgs := make([]aftercare.Message, len(out))
	at := make(map[aftercare.MessageKey]int, len(out))
	for i, pl := range out {
		m := pl.Message
		if render {
			d := data
			d.Day = pl.Occurrence
			d.DaysSince = dayNumber(c, pl.SendAt)
			content, err := pl.step.tmpl.render(pl.Channel, d)
			if err != nil {
				return nil, fmt.Errorf("plan step %q: %w", pl.Step, err)
			}
			m.Subject, m.Body, m.HTMLBody = content.Subject, content.Text, content.HTML
		}
		at[m.Key()] = i
		msgs[i] = m
	}
	if render {
		// Merged lines join their text in the order they would have gone
		// out; one that would make the text too long is skipped instead.
		for into, lines := range merges {
			m := &msgs[at[into]]
			for _, g := range lines {
				d := data
				d.Day = g.Occurrence
				d.DaysSince = dayNumber(c, m.SendAt)
				line, err := g.step.merge.render(aftercare.SMS, d)
				if err != nil {
					return nil, fmt.Errorf("plan step %q: merge: %w", g.Step, err)
				}
				body := m.Body + " " + line.Text
				if n, _ := Segments(body + " " + p.OptOutNotice); n > maxMergedSegments {
					msgs[at[g.Key()]].Reason = ReasonFrequencyCap
					continue
				}
				m.Body = body
			}
		}
	}
	noticed := p.OptOutNotice == ""
	for i := range msgs {
		m := &msgs[i]
		if !noticed && m.Channel == aftercare.SMS && m.Status == aftercare.StatusScheduled {
			m.Body += " " + p.OptOutNotice
			noticed = true
		}
		m.NextAttemptAt = m.SendAt
	}
	return msgs, nil
}

// planned is a message being planned, with what the planner needs to order
// and judge it.
type planned struct {
	aftercare.Message
	order, channel int
	step           *Step
	nominal        time.Time // when the step is meant to go out
	due            time.Time // when it was due, not before enrollment
	timing         string    // why its timing alone skips it, whatever the channel
}

func sortPlan(out []planned) {
	slices.SortStableFunc(out, func(a, b planned) int {
		return cmp.Or(a.SendAt.Compare(b.SendAt), cmp.Compare(a.order, b.order),
			cmp.Compare(a.Occurrence, b.Occurrence), cmp.Compare(a.channel, b.channel))
	})
}

// late reports whether the first text a patient would get (timing alone
// considered, whatever their consent) is not the protocol's opening text:
// its first red_flags step that is not itself a late step (the welcome).
func (p *Protocol) late(out []planned) bool {
	opener := ""
	for _, s := range p.steps {
		if s.RedFlags && !s.When.Late {
			opener = s.Key
			break
		}
	}
	for _, m := range out {
		if m.Channel == aftercare.SMS && m.timing == "" {
			return m.Step != opener
		}
	}
	return true
}

// dayNumber is the day after the treatment (0 for the treatment day) on
// which t falls in the patient's zone.
func dayNumber(c clock, t time.Time) int {
	y, m, d := c.treated.Date()
	ty, tm, td := t.In(c.loc).Date()
	a := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	b := time.Date(ty, tm, td, 12, 0, 0, 0, time.UTC)
	return int(b.Sub(a).Hours()+12) / 24
}

// fit places a message due at due (not before now) inside its window: out
// of quiet hours for SMS, and before stale. It returns the send time, or a
// reason to skip.
func fit(due, stale time.Time, ch aftercare.Channel, quiet QuietHours, now time.Time, loc *time.Location) (time.Time, string) {
	if !stale.After(now) {
		return due, reasonStaleAtEnrollment
	}
	if !stale.After(due) {
		return due, reasonStaleBeforeSend
	}
	send := due
	if ch == aftercare.SMS {
		send = quiet.Next(due.In(loc))
	}
	if !send.Before(stale) {
		return due, fmt.Sprintf("stale: quiet hours (%s) last until after the step's window closed", quiet)
	}
	return send, ""
}

// hold reports whether a step's conditions hold for an enrollment.
func (w Conditions) hold(e aftercare.Enrollment, c clock, enrolled time.Time) bool {
	switch w.Series {
	case SeriesFinished:
		if !e.SeriesFinished() {
			return false
		}
	case SeriesUnfinished:
		if e.SeriesFinished() {
			return false
		}
	}
	if w.enrolledBefore >= 0 {
		y, m, d := c.treated.Date()
		limit := wallTime(y, m, d, w.enrolledBefore/60, w.enrolledBefore%60, 0, c.loc)
		if !enrolled.Before(limit) {
			return false
		}
	}
	return true
}

func smsBlocked(in Input) string {
	switch {
	case in.Patient.SMSOptOut:
		return "patient opted out of sms"
	case !in.SMSConsent:
		return "no sms consent"
	case strings.TrimSpace(in.Patient.Phone) == "":
		return "no phone number"
	case in.Patient.PhoneBad != "":
		return "phone number cannot take texts: " + in.Patient.PhoneBad
	}
	return ""
}

func emailBlocked(in Input) string {
	switch {
	case in.Patient.EmailOptOut:
		return "patient opted out of email"
	case !in.EmailConsent:
		return "no email consent"
	case strings.TrimSpace(in.Patient.Email) == "":
		return "no email address"
	case in.Patient.EmailBad != "":
		return "email address cannot take mail: " + in.Patient.EmailBad
	}
	return ""
}

// location resolves the patient's zone, falling back to the clinic's.
func location(in Input) (*time.Location, error) {
	tz := strings.TrimSpace(in.Patient.Timezone)
	if tz == "" {
		tz = strings.TrimSpace(in.Clinic.Timezone)
	}
	if tz == "" {
		return nil, aftercare.FieldError("timezone", "missing: the patient and the clinic have no time zone")
	}
	// "Local" would mean the server's zone, and an empty name UTC: neither
	// is a patient's zone.
	if tz == "Local" || len(tz) > 64 {
		return nil, aftercare.FieldError("timezone", "unknown time zone %q", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, aftercare.FieldError("timezone", "unknown time zone %q", tz)
	}
	return loc, nil
}
