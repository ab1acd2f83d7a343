package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// RebookWindow is how soon after a session the next one must be treated
// for the enrollment to count as rebooked.
const RebookWindow = 42 * 24 * time.Hour

// MaxStatsWeeks caps the weeks one Stats call covers (about two years).
const MaxStatsWeeks = 106

// Stats is a clinic's outcomes over a date range, one row per week and
// treatment that had enrollments.
type Stats struct {
	// From and To are the first and last local dates covered (midnight in
	// Location), as asked.
	From, To time.Time
	// Location is the clinic's time zone: weeks start on Monday there.
	Location *time.Location
	// Weeks lists the Mondays of every week in the range, in order, with
	// or without rows.
	Weeks []time.Time
	// Rows are ordered by week, then treatment.
	Rows []StatsRow
}

// StatsRow is the outcome of one week's enrollments of one treatment at a
// clinic (a cohort: the enrollments treated that week, and what happened
// to them since). A patient's replies, opt-outs and red flags count for
// the enrollment that was the patient's latest when they happened.
//
// New sources join the same way: check-in answers by outcome, booking-link
// clicks and booking events are fields here, filled by one more query
// each in Store.Stats and summed in Add.
type StatsRow struct {
	// Week is the Monday (00:00 in the clinic's zone) the enrollments were
	// treated in.
	Week      time.Time
	Treatment string
	// Enrollments treated this week (cancelled ones are not counted), and
	// how many patients they were for.
	Enrollments int
	Patients    int
	// SMS and Email are the messages planned for these enrollments.
	SMS, Email ChannelStats
	// OptOutsSMS and OptOutsEmail count patients who opted out of the
	// channel themselves (STOP, the unsubscribe link, the carrier).
	OptOutsSMS, OptOutsEmail int
	// Replies counts patients' texts, not the STOP/START/HELP keywords.
	Replies int
	// RedFlags counts red-flag concerns opened; Acks holds the time from
	// opening to staff acknowledgement of each acknowledged one.
	RedFlags int
	Acks     []time.Duration
	// SeriesOpen counts enrollments of an unfinished series (session
	// number below the series length); Rebooked those whose patient has a
	// later enrollment at the clinic treated within RebookWindow; and
	// RebookPending those not rebooked yet whose window is still open.
	SeriesOpen    int
	Rebooked      int
	RebookPending int
	// BookingClicks counts clicks on these enrollments' booking links
	// (the signed redirect), and BookingClickers the enrollments with at
	// least one.
	BookingClicks   int
	BookingClickers int
	// AppointmentsBooked and AppointmentsCancelled count the clinic's
	// booking system's events about these patients (booked, cancelled)
	// while this was their latest enrollment.
	AppointmentsBooked    int
	AppointmentsCancelled int
	// Checkins counts the answers to these enrollments' check-in questions
	// by outcome.
	Checkins CheckinCounts
}

// CheckinCounts counts check-in answers: by outcome, and the enrollments
// that answered at all and that answered at least once "not healing as
// expected" or with a red flag.
type CheckinCounts struct {
	Healing, NotHealing, RedFlag       int
	Enrollments, NotHealingEnrollments int
}

// ChannelStats counts one channel's messages.
type ChannelStats struct {
	// Planned counts every message planned, whatever became of it.
	Planned int
	// Sent counts messages handed to the provider with no receipt yet.
	Sent int
	// Delivered counts messages the provider confirmed (for email: the
	// mail server accepted; email has no receipts).
	Delivered int
	// Failed counts messages that failed for good, per reason.
	Failed   int
	Failures []ReasonCount
	// Cancelled counts messages cancelled or skipped (opt-outs, a later
	// session, gone stale).
	Cancelled int
}

// ReasonCount is how many messages failed for one reason.
type ReasonCount struct {
	Reason string
	Count  int
}

// DeliveredRate is Delivered over the messages that left the outbox
// (sent, delivered or failed); ok is false when none did.
func (c ChannelStats) DeliveredRate() (rate float64, ok bool) {
	return Ratio(c.Delivered, c.Delivered+c.Sent+c.Failed)
}

// OptOutRate is the share of the row's patients who opted out of the
// channel.
func (r StatsRow) OptOutRate(ch aftercare.Channel) (float64, bool) {
	if ch == aftercare.Email {
		return Ratio(r.OptOutsEmail, r.Patients)
	}
	return Ratio(r.OptOutsSMS, r.Patients)
}

// RebookRate is Rebooked over SeriesOpen.
func (r StatsRow) RebookRate() (float64, bool) { return Ratio(r.Rebooked, r.SeriesOpen) }

// AckMedian is the median time to acknowledge a red flag (the lower of
// the two middle ones for an even count); ok is false with none.
func (r StatsRow) AckMedian() (time.Duration, bool) {
	if len(r.Acks) == 0 {
		return 0, false
	}
	a := slices.Sorted(slices.Values(r.Acks))
	return a[(len(a)-1)/2], true
}

// AckWorst is the longest time to acknowledge a red flag.
func (r StatsRow) AckWorst() (time.Duration, bool) {
	if len(r.Acks) == 0 {
		return 0, false
	}
	return slices.Max(r.Acks), true
}

// Unacknowledged counts red flags nobody has acknowledged yet.
func (r StatsRow) Unacknowledged() int { return r.RedFlags - len(r.Acks) }

// Add adds o's counts to r (Week and Treatment stay r's): totals over
// treatments or weeks.
func (r *StatsRow) Add(o StatsRow) {
	r.Enrollments += o.Enrollments
	r.Patients += o.Patients
	r.SMS.add(o.SMS)
	r.Email.add(o.Email)
	r.OptOutsSMS += o.OptOutsSMS
	r.OptOutsEmail += o.OptOutsEmail
	r.Replies += o.Replies
	r.RedFlags += o.RedFlags
	r.Acks = append(slices.Clip(r.Acks), o.Acks...)
	r.SeriesOpen += o.SeriesOpen
	r.Rebooked += o.Rebooked
	r.RebookPending += o.RebookPending
	r.BookingClicks += o.BookingClicks
	r.BookingClickers += o.BookingClickers
	r.AppointmentsBooked += o.AppointmentsBooked
	r.AppointmentsCancelled += o.AppointmentsCancelled
	r.Checkins.Healing += o.Checkins.Healing
	r.Checkins.NotHealing += o.Checkins.NotHealing
	r.Checkins.RedFlag += o.Checkins.RedFlag
	r.Checkins.Enrollments += o.Checkins.Enrollments
	r.Checkins.NotHealingEnrollments += o.Checkins.NotHealingEnrollments
}

func (c *ChannelStats) add(o ChannelStats) {
	c.Planned += o.Planned
	c.Sent += o.Sent
	c.Delivered += o.Delivered
	c.Failed += o.Failed
	c.Cancelled += o.Cancelled
	for _, f := range o.Failures {
		c.addFailure(f.Reason, f.Count)
	}
}

// addFailure counts n failures for reason, keeping Failures ordered by
// count (most first), then reason.
func (c *ChannelStats) addFailure(reason string, n int) {
	i := slices.IndexFunc(c.Failures, func(f ReasonCount) bool { return f.Reason == reason })
	if i < 0 {
		c.Failures = append(c.Failures, ReasonCount{Reason: reason})
		i = len(c.Failures) - 1
	}
	c.Failures[i].Count += n
	slices.SortStableFunc(c.Failures, func(a, b ReasonCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Reason, b.Reason)
	})
}

// Ratio is n over d; ok is false when d is 0 (nothing to divide by).
func Ratio(n, d int) (float64, bool) {
	if d == 0 {
		return 0, false
	}
	return float64(n) / float64(d), true
}

// Total sums rows into one (Week and Treatment zero).
func Total(rows []StatsRow) StatsRow {
	var t StatsRow
	for _, r := range rows {
		t.Add(r)
	}
	return t
}

// ByWeek sums the rows of each of st.Weeks (over treatments, or only
// treatment's rows when it is not empty), one row per week in order, zero
// rows for weeks without enrollments.
func (st Stats) ByWeek(treatment string) []StatsRow {
	out := make([]StatsRow, len(st.Weeks))
	for i, w := range st.Weeks {
		out[i].Week = w
		out[i].Treatment = treatment
		for _, r := range st.Rows {
			if r.Week.Equal(w) && (treatment == "" || r.Treatment == treatment) {
				out[i].Add(r)
			}
		}
	}
	return out
}

// StatsWeeks returns the Mondays of the weeks that cover the local dates
// from to to (inclusive) in loc, and the instants each week's part of the
// range starts and ends: the first and last week are cut at the range's
// ends. Dates are read from the year, month and day of from and to.
func StatsWeeks(from, to time.Time, loc *time.Location) (mondays []time.Time, ranges []DayRange) {
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	end := time.Date(to.Year(), to.Month(), to.Day()+1, 0, 0, 0, 0, loc)
	back := (int(start.Weekday()) + 6) % 7 // days since Monday
	for m := time.Date(start.Year(), start.Month(), start.Day()-back, 0, 0, 0, 0, loc); m.Before(end); m = time.Date(m.Year(), m.Month(), m.Day()+7, 0, 0, 0, 0, loc) {
		next := time.Date(m.Year(), m.Month(), m.Day()+7, 0, 0, 0, 0, loc)
		lo, hi := m, next
		if lo.Before(start) {
			lo = start
		}
		if hi.After(end) {
			hi = end
		}
		mondays = append(mondays, m)
		ranges = append(ranges, DayRange{Start: lo, End: hi})
	}
	return mondays, ranges
}

// Stats returns clinic clinicID's outcomes for the enrollments treated
// from the local date from to the local date to (inclusive, in the
// clinic's zone), per week (Monday to Sunday there) and treatment. Only
// the clinic's own enrollments are read. A range that ends before it
// starts or spans more than MaxStatsWeeks is an EINVALID error.
func (s *Store) Stats(ctx context.Context, clinicID int64, from, to time.Time) (Stats, error) {
	c, err := s.Clinic(ctx, clinicID)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: clinic %d time zone: %w", clinicID, err)
	}
	st := Stats{Location: loc,
		From: time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc),
		To:   time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc)}
	if st.To.Before(st.From) {
		return st, aftercare.FieldError("to", "must not be before from")
	}
	weeks, ranges := StatsWeeks(st.From, st.To, loc)
	if len(weeks) > MaxStatsWeeks {
		return st, aftercare.FieldError("to", "the range spans %d weeks; at most %d", len(weeks), MaxStatsWeeks)
	}
	st.Weeks = weeks

	vals := make([]string, len(ranges))
	args := make([]any, 0, 3*len(ranges)+1)
	for i, r := range ranges {
		vals[i] = "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))"
		args = append(args, i, ms(r.Start), ms(r.End))
	}
	args = append(args, clinicID)
	values := strings.Join(vals, ", ")

	type key struct {
		wk        int
		treatment string
	}
	rows := map[key]*StatsRow{}
	row := func(wk int, treatment string) *StatsRow {
		k := key{wk, treatment}
		if r, ok := rows[k]; ok {
			return r
		}
		r := &StatsRow{Treatment: treatment}
		if wk >= 0 && wk < len(weeks) {
			r.Week = weeks[wk]
		}
		rows[k] = r
		return r
	}

	// One read transaction: every source sees the same snapshot.
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	defer tx.Rollback()
	query := func(q string, extra []any, scan func(rs *sql.Rows) error) error {
		rs, err := tx.QueryContext(ctx, fmt.Sprintf(q, values), append(slices.Clip(args), extra...)...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			if err := scan(rs); err != nil {
				return err
			}
		}
		return rs.Err()
	}
	window := RebookWindow.Milliseconds()
	steps := []statsSource{
		{"enrollments", qStatsEnrollments, []any{window, ms(s.now()), window}, func(rs *sql.Rows) error {
			var wk, n, patients, open, rebooked, pending int
			var t string
			if err := rs.Scan(&wk, &t, &n, &patients, &open, &rebooked, &pending); err != nil {
				return err
			}
			r := row(wk, t)
			r.Enrollments, r.Patients, r.SeriesOpen, r.Rebooked, r.RebookPending = n, patients, open, rebooked, pending
			return nil
		}},
		{"messages", qStatsMessages, nil, func(rs *sql.Rows) error {
			var wk, n int
			var t, ch, status, why string
			if err := rs.Scan(&wk, &t, &ch, &status, &why, &n); err != nil {
				return err
			}
			r := row(wk, t)
			c := &r.SMS
			if aftercare.Channel(ch) == aftercare.Email {
				c = &r.Email
			}
			c.Planned += n
			switch aftercare.Status(status) {
			case aftercare.StatusDelivered:
				c.Delivered += n
			case aftercare.StatusSent:
				if aftercare.Channel(ch) == aftercare.Email {
					c.Delivered += n // accepted by the mail server: as far as email goes
				} else {
					c.Sent += n
				}
			case aftercare.StatusFailed:
				c.Failed += n
				c.addFailure(why, n)
			case aftercare.StatusCancelled, aftercare.StatusSkipped:
				c.Cancelled += n
			}
			return nil
		}},
		{"opt-outs", qStatsOptOuts, nil, func(rs *sql.Rows) error {
			var wk, n int
			var t, ch string
			if err := rs.Scan(&wk, &t, &ch, &n); err != nil {
				return err
			}
			r := row(wk, t)
			if aftercare.Channel(ch) == aftercare.Email {
				r.OptOutsEmail += n
			} else {
				r.OptOutsSMS += n
			}
			return nil
		}},
		{"replies", qStatsReplies, nil, func(rs *sql.Rows) error {
			var wk, n int
			var t string
			if err := rs.Scan(&wk, &t, &n); err != nil {
				return err
			}
			row(wk, t).Replies += n
			return nil
		}},
		{"red flags", qStatsRedFlags, []any{clinicID}, func(rs *sql.Rows) error {
			var wk int
			var t string
			var opened, acked int64
			if err := rs.Scan(&wk, &t, &opened, &acked); err != nil {
				return err
			}
			r := row(wk, t)
			r.RedFlags++
			if acked > 0 {
				r.Acks = append(r.Acks, time.Duration(max(acked-opened, 0))*time.Millisecond)
			}
			return nil
		}},
		{"booking clicks", qStatsBookingClicks, nil, func(rs *sql.Rows) error {
			var wk, clicks, clickers int
			var t string
			if err := rs.Scan(&wk, &t, &clicks, &clickers); err != nil {
				return err
			}
			r := row(wk, t)
			r.BookingClicks, r.BookingClickers = clicks, clickers
			return nil
		}},
		{"booking events", qStatsBookingEvents, []any{clinicID}, func(rs *sql.Rows) error {
			var wk, n int
			var t, ev string
			if err := rs.Scan(&wk, &t, &ev, &n); err != nil {
				return err
			}
			r := row(wk, t)
			switch ev {
			case aftercare.BookingBooked:
				r.AppointmentsBooked += n
			case aftercare.BookingCancelled:
				r.AppointmentsCancelled += n
			}
			return nil
		}},
		{"check-in answers", qStatsCheckins, nil, func(rs *sql.Rows) error {
			var wk int
			var t string
			var k CheckinCounts
			if err := rs.Scan(&wk, &t, &k.Healing, &k.NotHealing, &k.RedFlag, &k.Enrollments, &k.NotHealingEnrollments); err != nil {
				return err
			}
			row(wk, t).Checkins = k
			return nil
		}},
	}
	for _, step := range steps {
		if err := query(step.q, step.extra, step.scan); err != nil {
			return st, fmt.Errorf("stats: %s: %w", step.what, err)
		}
	}
	for _, r := range rows {
		st.Rows = append(st.Rows, *r)
	}
	slices.SortFunc(st.Rows, func(a, b StatsRow) int {
		if c := a.Week.Compare(b.Week); c != 0 {
			return c
		}
		return strings.Compare(a.Treatment, b.Treatment)
	})
	return st, nil
}

// statsSource is one query of Store.Stats: what it counts (for errors),
// its SQL (over qStatsCohort), its parameters after the cohort's, and
// how a row of it adds to the stats.
type statsSource struct {
	what  string
	q     string
	extra []any
	scan  func(rs *sql.Rows) error
}

// OptOutCount is how many opt-outs of one channel were recorded by one
// method.
type OptOutCount struct {
	Channel aftercare.Channel
	Method  aftercare.ConsentMethod
	Count   int
}

// CountOptOuts counts the opt-outs patients made themselves (STOP, the
// unsubscribe link, the carrier's opt-out), across clinics, by channel
// and method: the metrics' opt-out counter.
func (s *Store) CountOptOuts(ctx context.Context) ([]OptOutCount, error) {
	rows, err := s.read.QueryContext(ctx, qCountOptOuts)
	if err != nil {
		return nil, fmt.Errorf("count opt-outs: %w", err)
	}
	defer rows.Close()
	var out []OptOutCount
	for rows.Next() {
		var c OptOutCount
		if err := rows.Scan(&c.Channel, &c.Method, &c.Count); err != nil {
			return nil, fmt.Errorf("count opt-outs: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
