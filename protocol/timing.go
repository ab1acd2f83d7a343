package protocol

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A timing says when a step is due ("at") or stops being worth sending
// ("stale"). Wall-clock forms are in the patient's zone; "day N" is the Nth
// calendar day after the treatment's local date (the treatment day is day 0).
//
// at:
//
//	"48h"                   a Go duration after the treatment instant
//	"day 3 at 09:00"        local wall clock on day 3
//	"08:30 on days 1-14"    daily, one occurrence per day (occurrence = day number)
//	"month 6 at 11:00"      calendar months after the treatment's local date
//
// stale:
//
//	"72h"                   a Go duration after the treatment instant
//	"day 4 at 21:00"        local wall clock on day 4
//	"day 16"                the end of day 16, which is day 16 at 23:59
//	"same day at 12:00"     the local day of each planned send time
//	"+30d"                  calendar days after the planned send time, same wall clock
//	"+6h"                   a Go duration after the planned send time
type timing struct {
	kind  timingKind
	d     time.Duration // offset, after
	n     int           // day (day, daily's first day), months (month), days (afterDays)
	last  int           // daily: last day
	clock int           // minutes after local midnight (day, daily, month, sameDay)
	src   string
}

type timingKind int

const (
	offset    timingKind = iota // duration after the treatment instant
	onDay                       // day N at HH:MM
	daily                       // HH:MM on days A-B
	onMonth                     // month N at HH:MM
	sameDay                     // same day at HH:MM (stale only)
	after                       // +duration after the planned send (stale only)
	afterDays                   // +Nd after the planned send (stale only)
)

// Limits that keep a protocol sane and the planner bounded.
const (
	maxDay      = 3660                    // about ten years
	maxMonths   = 120                     // ten years
	maxDuration = maxDay * 24 * time.Hour // ten years
	maxDaily    = 366                     // occurrences of one daily step
	endOfDay    = 23*60 + 59              // "day N" without a time means 23:59
	clockExpr   = `(\d{1,2}:\d{2})`       // HH:MM, checked by parseClock
	numExpr     = `(\d{1,6})`             // checked against the limits above
	dayExpr     = `day\s+` + numExpr      // "day 3"
	atClockExpr = `\s+at\s+` + clockExpr  // " at 09:00"
	daysExpr    = numExpr + `\s*-\s*` + numExpr
)

var (
	reDay      = regexp.MustCompile(`^` + dayExpr + atClockExpr + `$`)
	reDayOnly  = regexp.MustCompile(`^` + dayExpr + `$`)
	reDaily    = regexp.MustCompile(`^` + clockExpr + `\s+on\s+days\s+` + daysExpr + `$`)
	reMonth    = regexp.MustCompile(`^months?\s+` + numExpr + atClockExpr + `$`)
	reSameDay  = regexp.MustCompile(`^same\s+day` + atClockExpr + `$`)
	reAfterDay = regexp.MustCompile(`^\+\s*` + numExpr + `d$`)
)

// dayAt fills t from a "day N at HH:MM" match, shared by at and stale.
func dayAt(t timing, m []string) (timing, error) {
	var err error
	t.kind = onDay
	if t.n, err = number(m[1], "day", maxDay); err != nil {
		return t, err
	}
	t.clock, err = parseClock(m[2])
	return t, err
}

// parseAt parses a step's "at".
func parseAt(s string) (timing, error) {
	src := s
	s = strings.TrimSpace(s)
	t := timing{src: src}
	var err error
	switch {
	case s == "":
		return t, errors.New("missing")
	case reDay.MatchString(s):
		return dayAt(t, reDay.FindStringSubmatch(s))
	case reDaily.MatchString(s):
		m := reDaily.FindStringSubmatch(s)
		t.kind = daily
		if t.clock, err = parseClock(m[1]); err != nil {
			return t, err
		}
		if t.n, err = number(m[2], "day", maxDay); err != nil {
			return t, err
		}
		if t.last, err = number(m[3], "day", maxDay); err != nil {
			return t, err
		}
		if t.last < t.n {
			return t, fmt.Errorf("%q: days %d-%d run backwards", src, t.n, t.last)
		}
		if t.last-t.n+1 > maxDaily {
			return t, fmt.Errorf("%q: more than %d days", src, maxDaily)
		}
		return t, nil
	case reMonth.MatchString(s):
		m := reMonth.FindStringSubmatch(s)
		t.kind = onMonth
		if t.n, err = number(m[1], "month", maxMonths); err != nil {
			return t, err
		}
		t.clock, err = parseClock(m[2])
		return t, err
	default:
		t.kind = offset
		t.d, err = duration(s)
		if err != nil {
			return t, fmt.Errorf("%q is not a duration (48h), \"day N at HH:MM\", \"HH:MM on days A-B\" or \"month N at HH:MM\"", src)
		}
		return t, nil
	}
}

// parseStale parses a step's "stale".
func parseStale(s string) (timing, error) {
	src := s
	s = strings.TrimSpace(s)
	t := timing{src: src}
	var err error
	switch {
	case s == "":
		return t, errors.New("missing")
	case reDay.MatchString(s):
		return dayAt(t, reDay.FindStringSubmatch(s))
	case reDayOnly.MatchString(s):
		m := reDayOnly.FindStringSubmatch(s)
		t.kind = onDay
		t.clock = endOfDay
		t.n, err = number(m[1], "day", maxDay)
		return t, err
	case reSameDay.MatchString(s):
		m := reSameDay.FindStringSubmatch(s)
		t.kind = sameDay
		t.clock, err = parseClock(m[1])
		return t, err
	case reAfterDay.MatchString(s):
		m := reAfterDay.FindStringSubmatch(s)
		t.kind = afterDays
		if t.n, err = number(m[1], "day", maxDay); err != nil {
			return t, err
		}
		if t.n == 0 {
			return t, fmt.Errorf("%q: must be at least +1d", src)
		}
		return t, nil
	case strings.HasPrefix(s, "+"):
		t.kind = after
		t.d, err = duration(strings.TrimSpace(s[1:]))
		if err != nil {
			return t, fmt.Errorf("%q is not +Nd or +duration (+6h)", src)
		}
		if t.d == 0 {
			return t, fmt.Errorf("%q: must be more than zero", src)
		}
		return t, nil
	default:
		t.kind = offset
		t.d, err = duration(s)
		if err != nil {
			return t, fmt.Errorf("%q is not a duration (72h), \"day N\", \"day N at HH:MM\", \"same day at HH:MM\", \"+Nd\" or \"+duration\"", src)
		}
		return t, nil
	}
}

func number(s, what string, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n > max {
		return 0, fmt.Errorf("%s %s is out of range (0-%d)", what, s, max)
	}
	return n, nil
}

func duration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 || d > maxDuration {
		return 0, fmt.Errorf("duration %s is out of range", s)
	}
	return d, nil
}

// checkOrder reports an error unless stale comes after at for every
// possible treatment time. Treatment can be at any minute of day 0, so a
// duration from treatment is compared at its worst case. Daylight-saving
// shifts are ignored here; the planner still skips any message whose stale
// time is not after its send time.
func checkOrder(at, stale timing) error {
	// The latest at, as an offset from day 0's local midnight, and whether
	// it depends on the treatment time (durations do).
	var latest time.Duration
	switch at.kind {
	case offset:
		latest = at.d
	case onDay:
		latest = dayClock(at.n, at.clock)
	case daily:
		latest = dayClock(at.last, at.clock)
	}
	notAfter := fmt.Errorf("%q can come before the send time %q", stale.src, at.src)
	switch stale.kind {
	case after, afterDays:
		return nil // parse made them positive
	case sameDay:
		if at.kind == offset {
			return fmt.Errorf("%q needs a step with a time of day; use a duration, \"day N at HH:MM\" or \"+duration\"", stale.src)
		}
		if stale.clock <= at.clock {
			return fmt.Errorf("%q is not after the send time %q", stale.src, at.src)
		}
		return nil
	}
	if at.kind == onMonth {
		return fmt.Errorf("%q: a monthly step needs a stale time relative to its send time (\"+30d\" or \"same day at HH:MM\")", stale.src)
	}
	switch stale.kind {
	case offset:
		if at.kind == offset {
			if stale.d <= at.d {
				return fmt.Errorf("%q is not after the send time %q", stale.src, at.src)
			}
			return nil
		}
		// Treatment at 00:00 makes the stale time earliest.
		if stale.d <= latest {
			return notAfter
		}
	case onDay:
		if at.kind == offset {
			// Treatment at 23:59:59 makes the send time latest.
			latest += 24*time.Hour - time.Second
		}
		if dayClock(stale.n, stale.clock) <= latest {
			return notAfter
		}
	}
	return nil
}

func dayClock(day, clock int) time.Duration {
	return time.Duration(day)*24*time.Hour + time.Duration(clock)*time.Minute
}

// clock is the treatment instant placed in the patient's zone; timings are
// resolved against it.
type clock struct {
	treated time.Time // in loc
	loc     *time.Location
}

// sendAt returns the nominal send time of occurrence occ (the day number for
// daily steps).
func (c clock) sendAt(t timing, occ int) time.Time {
	y, m, d := c.treated.Date()
	switch t.kind {
	case onDay:
		return wallTime(y, m, d+t.n, t.clock/60, t.clock%60, 0, c.loc)
	case daily:
		return wallTime(y, m, d+occ, t.clock/60, t.clock%60, 0, c.loc)
	case onMonth:
		y2, m2, d2 := addMonths(y, m, d, t.n)
		return wallTime(y2, m2, d2, t.clock/60, t.clock%60, 0, c.loc)
	default:
		return c.treated.Add(t.d)
	}
}

// staleAt returns the stale time for a message planned at send.
func (c clock) staleAt(t timing, send time.Time) time.Time {
	y, m, d := c.treated.Date()
	switch t.kind {
	case onDay:
		return wallTime(y, m, d+t.n, t.clock/60, t.clock%60, 0, c.loc)
	case sameDay:
		y, m, d = send.In(c.loc).Date()
		return wallTime(y, m, d, t.clock/60, t.clock%60, 0, c.loc)
	case after:
		return send.Add(t.d)
	case afterDays:
		s := send.In(c.loc)
		y, m, d = s.Date()
		return wallTime(y, m, d+t.n, s.Hour(), s.Minute(), s.Second(), c.loc)
	default:
		return c.treated.Add(t.d)
	}
}

// addMonths adds n calendar months to a date, clamping the day to the end
// of a shorter month (August 31 + 6 months = February 28 or 29).
func addMonths(y int, m time.Month, d, n int) (int, time.Month, int) {
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.Year(), first.Month(), min(d, last)
}
