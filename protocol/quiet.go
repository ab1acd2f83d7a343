package protocol

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// QuietHours is the nightly window, in the patient's local wall-clock time,
// during which no SMS goes out. Start and End are minutes after local
// midnight; the window is [Start, End) and wraps past midnight when Start >
// End (21:00–08:00). Start == End is an empty window: texts may go at any
// hour. The zero value is an empty window too, but Options treats a zero
// QuietHours as "use DefaultQuietHours".
type QuietHours struct {
	Start, End int
}

// DefaultQuietHours is 21:00–08:00, the window the aftercare plan uses when a
// clinic sets none.
var DefaultQuietHours = QuietHours{Start: 21 * 60, End: 8 * 60}

// ParseQuietHours parses a window given as two "HH:MM" local times, such as
// ParseQuietHours("21:00", "08:00").
func ParseQuietHours(start, end string) (QuietHours, error) {
	s, err := parseClock(start)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet hours start: %w", err)
	}
	e, err := parseClock(end)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet hours end: %w", err)
	}
	return QuietHours{Start: s, End: e}, nil
}

// String formats q as "21:00-08:00".
// ParseQuietWindow reads quiet hours written as one window, "21:00-08:00"
// (a clinic's setting).
func ParseQuietWindow(s string) (QuietHours, error) {
	start, end, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM", s)
	}
	return ParseQuietHours(strings.TrimSpace(start), strings.TrimSpace(end))
}

func (q QuietHours) String() string {
	return formatClock(q.Start) + "-" + formatClock(q.End)
}

// Valid reports whether Start and End are minutes within a day.
func (q QuietHours) Valid() bool {
	return q.Start >= 0 && q.Start < minutesPerDay && q.End >= 0 && q.End < minutesPerDay
}

// Contains reports whether t, already in the patient's location, falls in
// the quiet window.
func (q QuietHours) Contains(t time.Time) bool {
	if q.Start == q.End {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if q.Start < q.End {
		return m >= q.Start && m < q.End
	}
	return m >= q.Start || m < q.End
}

// Next returns t when an SMS may go out at t, or else the first allowed
// minute after it: the end of the quiet window on the right local day, in
// t's location. When that wall-clock time does not exist (a daylight-saving
// gap) it is the first valid instant after the gap, or, should the gap
// swallow the whole allowed window, the end of the next night's window.
func (q QuietHours) Next(t time.Time) time.Time {
	for range 7 { // a gap can swallow at most one day's allowed window
		if !q.Contains(t) {
			return t
		}
		t = q.end(t)
	}
	return t
}

// end returns the end of the quiet window that contains t.
func (q QuietHours) end(t time.Time) time.Time {
	day := t.Day()
	if q.Start > q.End && t.Hour()*60+t.Minute() >= q.Start {
		day++ // quiet window started this evening; it ends tomorrow morning
	}
	next := wallTime(t.Year(), t.Month(), day, q.End/60, q.End%60, 0, t.Location())
	if !next.After(t) {
		// The end of the window is an ambiguous fall-back time and t is
		// already in its second pass: take the second occurrence, in t's
		// offset.
		_, off := t.Zone()
		civil := time.Date(t.Year(), t.Month(), day, q.End/60, q.End%60, 0, 0, time.UTC)
		next = civil.Add(-time.Duration(off) * time.Second).In(t.Location())
	}
	return next
}

const minutesPerDay = 24 * 60

// parseClock parses "HH:MM" (24-hour, one or two digit hours) into minutes
// after midnight.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !digits(h) || !digits(m) {
		return 0, fmt.Errorf("%q is not a time of day like 08:30", s)
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	if hh > 23 || mm > 59 {
		return 0, fmt.Errorf("%q is not a time of day between 00:00 and 23:59", s)
	}
	return hh*60 + mm, nil
}

func formatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// wallTime returns the instant at the given local wall-clock time in loc.
// Day overflow normalizes as in time.Date. A wall-clock time that does not
// exist that day (a spring-forward gap) moves forward to the first valid
// instant, the moment the clocks changed; an ambiguous one (fall-back)
// resolves as time.Date does.
func wallTime(y int, mo time.Month, d, hh, mm, ss int, loc *time.Location) time.Time {
	t := time.Date(y, mo, d, hh, mm, ss, 0, loc)
	want := time.Date(y, mo, d, hh, mm, ss, 0, time.UTC)
	got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	switch {
	case got.Equal(want):
		return t
	case got.Before(want):
		// time.Date applied the offset from before the change: the gap
		// ends where the zone period containing t ends.
		_, end := t.ZoneBounds()
		if end.IsZero() {
			return t
		}
		return end
	default:
		// time.Date applied the offset from after the change: the gap
		// ends where the zone period containing t starts.
		start, _ := t.ZoneBounds()
		if start.IsZero() {
			return t
		}
		return start
	}
}
