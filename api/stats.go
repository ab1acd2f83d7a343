package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// StatsReader reads a clinic's outcome statistics (store.Store.Stats).
type StatsReader interface {
	Stats(ctx context.Context, clinicID int64, from, to time.Time) (store.Stats, error)
}

// DateLayout is how the stats' dates are written: a local date.
const DateLayout = "2006-01-02"

// StatsQuery is what GET /v1/stats and the console's stats page were
// asked for.
type StatsQuery struct {
	// From and To are local dates (the clinic's zone) as UTC midnights.
	From, To time.Time
	// Treatment keeps only this treatment's rows ("" for all).
	Treatment string
	// CSV asks for text/csv (format=csv).
	CSV bool
}

// ParseStatsQuery reads from, to, treatment and format from a query
// string, every problem at once (each a field error). Without
// defaultFrom and defaultTo (zero), from and to are required.
func ParseStatsQuery(q url.Values, defaultFrom, defaultTo time.Time) (StatsQuery, error) {
	var errs []error
	sq := StatsQuery{From: defaultFrom, To: defaultTo}
	date := func(name string, dst *time.Time) bool {
		v := q.Get(name)
		if v == "" {
			if dst.IsZero() {
				errs = append(errs, aftercare.FieldError(name, "required: a date as YYYY-MM-DD"))
				return false
			}
			return true
		}
		t, err := time.Parse(DateLayout, v)
		if err != nil || t.Year() < 2000 || t.Year() > 2999 {
			errs = append(errs, aftercare.FieldError(name, "must be a date as YYYY-MM-DD"))
			return false
		}
		*dst = t
		return true
	}
	okFrom, okTo := date("from", &sq.From), date("to", &sq.To)
	if okFrom && okTo {
		if sq.To.Before(sq.From) {
			errs = append(errs, aftercare.FieldError("to", "must not be before from"))
		} else if weeks, _ := store.StatsWeeks(sq.From, sq.To, time.UTC); len(weeks) > store.MaxStatsWeeks {
			errs = append(errs, aftercare.FieldError("to", "the range spans %d weeks; at most %d", len(weeks), store.MaxStatsWeeks))
		}
	}
	if t := q.Get("treatment"); t != "" {
		switch {
		case !utf8.ValidString(t) || strings.ContainsFunc(t, unicode.IsControl):
			errs = append(errs, aftercare.FieldError("treatment", "must be text without control characters"))
		case utf8.RuneCountInString(t) > 100:
			errs = append(errs, aftercare.FieldError("treatment", "must be at most 100 characters"))
		default:
			sq.Treatment = strings.TrimSpace(t)
		}
	}
	switch q.Get("format") {
	case "", "json":
	case "csv":
		sq.CSV = true
	default:
		errs = append(errs, aftercare.FieldError("format", "must be json or csv"))
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		switch name {
		case "from", "to", "treatment", "format":
			if len(q[name]) > 1 {
				errs = append(errs, aftercare.FieldError(name, "must be given once"))
			}
		default:
			errs = append(errs, aftercare.FieldError(truncate(name, 40), "unknown parameter (known: from, to, treatment, format)"))
		}
	}
	return sq, errors.Join(errs...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// WantsCSV reports whether a request asks for CSV: format=csv, or an
// Accept header naming text/csv.
func WantsCSV(r *http.Request, sq StatsQuery) bool {
	if sq.CSV {
		return true
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
			return true
		}
	}
	return false
}

// getStats serves GET /v1/stats.
func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	clinic, _ := ClinicFrom(r.Context())
	sq, err := ParseStatsQuery(r.URL.Query(), time.Time{}, time.Time{})
	if err != nil {
		s.badQuery(w, r, err)
		return
	}
	st, err := s.stats.Stats(r.Context(), clinic.ID, sq.From, sq.To)
	if aftercare.ErrorCode(err) == aftercare.EINVALID {
		s.badQuery(w, r, err)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if WantsCSV(r, sq) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+StatsFilename(st)+`"`)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := WriteStatsCSV(w, st, sq.Treatment); err != nil {
			s.log.WarnContext(r.Context(), "write stats csv", "err", err)
		}
		return
	}
	writeJSON(w, http.StatusOK, NewStatsPage(st, sq.Treatment))
}

// badQuery answers 400 with every problem of the query string.
func (s *Server) badQuery(w http.ResponseWriter, r *http.Request, err error) {
	var body errorBody
	body.Error.Code = aftercare.EINVALID
	all := aftercare.AllErrors(err)
	if len(all) == 0 {
		body.Error.Message = aftercare.ErrorMessage(err)
	}
	for i, e := range all {
		if i == 0 {
			body.Error.Field, body.Error.Message = e.Field, e.Message
		}
		body.Errors = append(body.Errors, fieldProblem{Field: e.Field, Message: e.Message})
	}
	writeJSON(w, http.StatusBadRequest, body)
}

// StatsFilename names a CSV download of st.
func StatsFilename(st store.Stats) string {
	return "aftercare-stats-" + st.From.Format(DateLayout) + "-to-" + st.To.Format(DateLayout) + ".csv"
}

// NewStatsPage is the API's answer for st, keeping only treatment's rows
// when treatment is not empty.
func NewStatsPage(st store.Stats, treatment string) StatsPage {
	p := StatsPage{From: st.From.Format(DateLayout), To: st.To.Format(DateLayout), Timezone: st.Location.String(),
		Treatment: treatment, RebookWindowDays: int(store.RebookWindow / (24 * time.Hour)),
		Weeks: []StatsRow{}, Rows: []StatsRow{}}
	var kept []store.StatsRow
	for _, r := range st.Rows {
		if treatment == "" || strings.EqualFold(r.Treatment, treatment) {
			kept = append(kept, r)
			p.Rows = append(p.Rows, newStatsRow(r))
		}
	}
	for _, w := range st.Weeks {
		sum := store.StatsRow{Week: w}
		for _, r := range kept {
			if r.Week.Equal(w) {
				sum.Add(r)
			}
		}
		p.Weeks = append(p.Weeks, newStatsRow(sum))
	}
	p.Total = newStatsRow(store.Total(kept))
	return p
}

func newStatsRow(r store.StatsRow) StatsRow {
	out := StatsRow{Treatment: r.Treatment, Enrollments: r.Enrollments, Patients: r.Patients,
		SMS: newChannelStats(r.SMS), Email: newChannelStats(r.Email), Replies: r.Replies,
		OptOuts:   StatsOptOuts{SMS: r.OptOutsSMS, Email: r.OptOutsEmail},
		RedFlags:  StatsRedFlags{Opened: r.RedFlags, Acknowledged: len(r.Acks), Unacknowledged: r.Unacknowledged()},
		Rebooking: StatsRebooking{SeriesOpen: r.SeriesOpen, Rebooked: r.Rebooked, Pending: r.RebookPending},
		Booking: StatsBooking{LinkClicks: r.BookingClicks, EnrollmentsClicked: r.BookingClickers,
			AppointmentsBooked: r.AppointmentsBooked, AppointmentsCancelled: r.AppointmentsCancelled,
			EnrollmentsClickedPct: pct(store.Ratio(r.BookingClickers, r.Enrollments))},
		Checkins: StatsCheckins{Healing: r.Checkins.Healing, NotHealing: r.Checkins.NotHealing, RedFlag: r.Checkins.RedFlag,
			EnrollmentsAnswered: r.Checkins.Enrollments, EnrollmentsNotHealing: r.Checkins.NotHealingEnrollments}}
	if !r.Week.IsZero() {
		out.Week = r.Week.Format(DateLayout)
	}
	out.OptOuts.SMSPct = pct(r.OptOutRate(aftercare.SMS))
	out.OptOuts.EmailPct = pct(r.OptOutRate(aftercare.Email))
	out.Rebooking.Pct = pct(r.RebookRate())
	if d, ok := r.AckMedian(); ok {
		out.RedFlags.AckMedianSeconds = ptr(int64(d / time.Second))
	}
	if d, ok := r.AckWorst(); ok {
		out.RedFlags.AckWorstSeconds = ptr(int64(d / time.Second))
	}
	return out
}

func newChannelStats(c store.ChannelStats) ChannelStats {
	out := ChannelStats{Planned: c.Planned, Sent: c.Sent, Delivered: c.Delivered, Failed: c.Failed,
		Cancelled: c.Cancelled, DeliveredPct: pct(c.DeliveredRate()), Failures: []FailureReason{}}
	for _, f := range c.Failures {
		out.Failures = append(out.Failures, FailureReason{Reason: f.Reason, Count: f.Count})
	}
	return out
}

// pct is a rate as a percentage rounded to one decimal, nil when there is
// nothing to divide by.
func pct(rate float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	v := math.Round(rate*1000) / 10
	return &v
}

func ptr[T any](v T) *T { return &v }

// statsColumns are the CSV's columns, one row per week and treatment.
var statsColumns = []string{"week", "treatment", "enrollments", "patients",
	"sms_planned", "sms_sent", "sms_delivered", "sms_failed", "sms_cancelled", "sms_delivered_pct", "sms_failures",
	"email_planned", "email_sent", "email_delivered", "email_failed", "email_cancelled", "email_delivered_pct", "email_failures",
	"opt_outs_sms", "opt_outs_sms_pct", "opt_outs_email", "opt_outs_email_pct", "replies",
	"red_flags", "red_flags_unacknowledged", "ack_median_minutes", "ack_worst_minutes",
	"series_open", "rebooked", "rebook_pending", "rebooked_pct",
	"booking_link_clicks", "enrollments_clicked", "enrollments_clicked_pct", "appointments_booked", "appointments_cancelled",
	"checkins_healing", "checkins_not_healing", "checkins_red_flag", "enrollments_answered", "enrollments_not_healing"}

// WriteStatsCSV writes st's rows (only treatment's when not empty) as
// CSV with a header line. Every text cell that a spreadsheet would read
// as a formula (starting with =, +, -, @, a tab or a carriage return) is
// prefixed with an apostrophe.
func WriteStatsCSV(w io.Writer, st store.Stats, treatment string) error {
	page := NewStatsPage(st, treatment)
	cw := csv.NewWriter(w)
	if err := cw.Write(statsColumns); err != nil {
		return err
	}
	num := func(n int) string { return strconv.Itoa(n) }
	pc := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 1, 64)
	}
	mins := func(s *int64) string {
		if s == nil {
			return ""
		}
		return strconv.FormatFloat(float64(*s)/60, 'f', 1, 64)
	}
	failures := func(fs []FailureReason) string {
		parts := make([]string, len(fs))
		for i, f := range fs {
			parts[i] = fmt.Sprintf("%s: %d", f.Reason, f.Count)
		}
		return strings.Join(parts, "; ")
	}
	channel := func(c ChannelStats) []string {
		return []string{num(c.Planned), num(c.Sent), num(c.Delivered), num(c.Failed), num(c.Cancelled), pc(c.DeliveredPct),
			failures(c.Failures)}
	}
	for _, r := range page.Rows {
		rec := []string{r.Week, r.Treatment, num(r.Enrollments), num(r.Patients)}
		rec = append(rec, channel(r.SMS)...)
		rec = append(rec, channel(r.Email)...)
		rec = append(rec, num(r.OptOuts.SMS), pc(r.OptOuts.SMSPct), num(r.OptOuts.Email), pc(r.OptOuts.EmailPct), num(r.Replies),
			num(r.RedFlags.Opened), num(r.RedFlags.Unacknowledged), mins(r.RedFlags.AckMedianSeconds), mins(r.RedFlags.AckWorstSeconds),
			num(r.Rebooking.SeriesOpen), num(r.Rebooking.Rebooked), num(r.Rebooking.Pending), pc(r.Rebooking.Pct),
			num(r.Booking.LinkClicks), num(r.Booking.EnrollmentsClicked), pc(r.Booking.EnrollmentsClickedPct),
			num(r.Booking.AppointmentsBooked), num(r.Booking.AppointmentsCancelled),
			num(r.Checkins.Healing), num(r.Checkins.NotHealing), num(r.Checkins.RedFlag),
			num(r.Checkins.EnrollmentsAnswered), num(r.Checkins.EnrollmentsNotHealing))
		for i := range rec {
			rec[i] = CSVSafe(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVSafe defuses a cell a spreadsheet would run as a formula: one that
// starts with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe (OWASP's advice). Numbers here are never negative, so no
// number is changed.
func CSVSafe(s string) string {
	if s != "" && slices.Contains([]byte("=+-@\t\r"), s[0]) {
		return "'" + s
	}
	return s
}
