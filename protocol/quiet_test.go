package protocol

import (
	"testing"
	"time"
)

func TestParseQuietHours(t *testing.T) {
	t.Parallel()
	tests := []struct {
		start, end string
		want       QuietHours
		ok         bool
	}{
		{"21:00", "08:00", DefaultQuietHours, true},
		{"9:30", "10:00", QuietHours{570, 600}, true},
		{" 22:15 ", "07:45", QuietHours{1335, 465}, true},
		{"00:00", "00:00", QuietHours{}, true},
		{"24:00", "08:00", QuietHours{}, false},
		{"21:60", "08:00", QuietHours{}, false},
		{"2100", "08:00", QuietHours{}, false},
		{"21:00", "", QuietHours{}, false},
		{"9pm", "8am", QuietHours{}, false},
		{"-1:00", "08:00", QuietHours{}, false},
		{"021:00", "08:00", QuietHours{}, false},
	}
	for _, tc := range tests {
		got, err := ParseQuietHours(tc.start, tc.end)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseQuietHours(%q, %q) = %v, %v; want %v, ok=%v", tc.start, tc.end, got, err, tc.want, tc.ok)
		}
	}
	if s := DefaultQuietHours.String(); s != "21:00-08:00" {
		t.Errorf("String() = %q", s)
	}
}

func TestQuietHoursContains(t *testing.T) {
	t.Parallel()
	day := func(h, m int) time.Time { return time.Date(2026, 6, 9, h, m, 0, 0, time.UTC) }
	tests := []struct {
		q    QuietHours
		t    time.Time
		want bool
	}{
		{DefaultQuietHours, day(20, 59), false},
		{DefaultQuietHours, day(21, 0), true},
		{DefaultQuietHours, day(23, 59), true},
		{DefaultQuietHours, day(0, 0), true},
		{DefaultQuietHours, day(7, 59), true},
		{DefaultQuietHours, day(8, 0), false},
		{DefaultQuietHours, day(12, 0), false},
		{QuietHours{13 * 60, 14 * 60}, day(13, 30), true},
		{QuietHours{13 * 60, 14 * 60}, day(14, 0), false},
		{QuietHours{13 * 60, 14 * 60}, day(12, 59), false},
		{QuietHours{600, 600}, day(10, 0), false},
		{QuietHours{}, day(0, 0), false},
	}
	for _, tc := range tests {
		if got := tc.q.Contains(tc.t); got != tc.want {
			t.Errorf("%v.Contains(%s) = %v, want %v", tc.q, tc.t.Format("15:04"), got, tc.want)
		}
	}
}

func TestQuietHoursNext(t *testing.T) {
	t.Parallel()
	const layout = "2006-01-02 15:04:05 MST"
	tests := []struct {
		name, tz string
		q        QuietHours
		at, want string // local "2006-01-02 15:04:05", want with zone abbreviation
	}{
		{"allowed stays put, seconds and all", "America/New_York", DefaultQuietHours, "2026-06-09 20:59:30", "2026-06-09 20:59:30 EDT"},
		{"evening waits for the morning", "America/New_York", DefaultQuietHours, "2026-06-09 21:00:00", "2026-06-10 08:00:00 EDT"},
		{"after midnight waits the same morning", "America/New_York", DefaultQuietHours, "2026-06-10 02:00:00", "2026-06-10 08:00:00 EDT"},
		{"across the year", "America/New_York", DefaultQuietHours, "2026-12-31 23:59:30", "2027-01-01 08:00:00 EST"},
		{"daytime window", "America/New_York", QuietHours{13 * 60, 14 * 60}, "2026-06-09 13:10:00", "2026-06-09 14:00:00 EDT"},
		{"spring forward night keeps 08:00", "America/New_York", DefaultQuietHours, "2026-03-07 22:00:00", "2026-03-08 08:00:00 EDT"},
		{"fall back night keeps 08:00", "America/New_York", DefaultQuietHours, "2026-10-31 22:00:00", "2026-11-01 08:00:00 EST"},
		{"end in the gap moves to 03:00", "America/New_York", QuietHours{21 * 60, 2*60 + 30}, "2026-03-07 22:00:00", "2026-03-08 03:00:00 EDT"},
		{"end at an ambiguous time, first pass", "America/New_York", QuietHours{21 * 60, 90}, "2026-11-01 01:15:00 EDT", "2026-11-01 01:30:00 EDT"},
		{"end at an ambiguous time, second pass", "America/New_York", QuietHours{21 * 60, 90}, "2026-11-01 01:15:00 EST", "2026-11-01 01:30:00 EST"},
		{"london gap", "Europe/London", QuietHours{30, 90}, "2026-03-29 00:45:00", "2026-03-29 02:00:00 BST"},
		{"sydney gap", "Australia/Sydney", QuietHours{21 * 60, 2*60 + 30}, "2026-10-03 23:00:00", "2026-10-04 03:00:00 AEDT"},
		{"kolkata", "Asia/Kolkata", DefaultQuietHours, "2026-06-09 23:00:00", "2026-06-10 08:00:00 IST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loc := mustLoc(t, tc.tz)
			var at time.Time
			var err error
			if len(tc.at) > len("2006-01-02 15:04:05") {
				at, err = parseWithZone(tc.at, loc)
			} else {
				at, err = time.ParseInLocation("2006-01-02 15:04:05", tc.at, loc)
			}
			if err != nil {
				t.Fatal(err)
			}
			got := tc.q.Next(at)
			if s := got.Format(layout); s != tc.want {
				t.Errorf("Next(%s) = %s, want %s", at.Format(layout), s, tc.want)
			}
			if got.Location() != loc {
				t.Errorf("Next returned a time in %v, want %v", got.Location(), loc)
			}
			if got.Before(at) || tc.q.Contains(got) {
				t.Errorf("Next(%s) = %s: before t or still quiet", at, got)
			}
		})
	}
}

// parseWithZone parses "2006-01-02 15:04:05 EST" choosing, in an ambiguous
// hour, the instant whose zone abbreviation matches.
func parseWithZone(s string, loc *time.Location) (time.Time, error) {
	civil, err := time.ParseInLocation("2006-01-02 15:04:05", s[:19], loc)
	if err != nil {
		return time.Time{}, err
	}
	for _, d := range []time.Duration{0, -time.Hour, time.Hour} {
		c := civil.Add(d)
		if c.Format("2006-01-02 15:04:05 MST") == s {
			return c, nil
		}
	}
	return time.Time{}, &time.ParseError{Value: s, Message: ": no such local time"}
}

func TestWallTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tz        string
		y         int
		m         time.Month
		d, hh, mm int
		want      string
	}{
		{"America/New_York", 2026, 3, 8, 2, 30, "2026-03-08 03:00 EDT"},     // gap: Go would say 01:30 EST
		{"America/New_York", 2026, 3, 8, 3, 30, "2026-03-08 03:30 EDT"},     // after the gap
		{"America/New_York", 2026, 11, 1, 1, 30, "2026-11-01 01:30 EDT"},    // ambiguous: the first
		{"Europe/London", 2026, 3, 29, 1, 30, "2026-03-29 02:00 BST"},       // gap: Go would say 02:30 BST
		{"Australia/Lord_Howe", 2026, 10, 4, 2, 15, "2026-10-04 02:30 +11"}, // a 30-minute change
		{"Asia/Kolkata", 2026, 1, 32, 9, 0, "2026-02-01 09:00 IST"},         // day overflow
	}
	for _, tc := range tests {
		got := wallTime(tc.y, tc.m, tc.d, tc.hh, tc.mm, 0, mustLoc(t, tc.tz)).Format("2006-01-02 15:04 MST")
		if got != tc.want {
			t.Errorf("wallTime(%s %d-%d-%d %02d:%02d) = %s, want %s", tc.tz, tc.y, tc.m, tc.d, tc.hh, tc.mm, got, tc.want)
		}
	}
}

func TestAddMonths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		y    int
		m    time.Month
		d, n int
		want string
	}{
		{2026, 6, 9, 6, "2026-12-09"},
		{2026, 8, 31, 6, "2027-02-28"},
		{2027, 8, 31, 6, "2028-02-29"},
		{2026, 1, 31, 1, "2026-02-28"},
		{2026, 12, 15, 1, "2027-01-15"},
		{2026, 6, 9, 0, "2026-06-09"},
	}
	for _, tc := range tests {
		y, m, d := addMonths(tc.y, tc.m, tc.d, tc.n)
		if got := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format("2006-01-02"); got != tc.want {
			t.Errorf("addMonths(%d-%d-%d, %d) = %s, want %s", tc.y, tc.m, tc.d, tc.n, got, tc.want)
		}
	}
}

// A gap that swallows the whole allowed window (here 01:30-01:31, gone on
// the night London skips 01:00-02:00) sends the text to the next night's.
func TestQuietHoursNextWhenTheGapSwallowsTheWindow(t *testing.T) {
	t.Parallel()
	london := mustLoc(t, "Europe/London")
	q := QuietHours{Start: 91, End: 90}
	at := time.Date(2026, 3, 28, 22, 51, 0, 0, london)
	got := q.Next(at)
	if want := time.Date(2026, 3, 30, 1, 30, 0, 0, london); !got.Equal(want) {
		t.Errorf("Next(%v) = %v, want %v", at, got, want)
	}
}
