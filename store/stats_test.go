package store_test

import (
	"testing"
	"time"

	"github.com/aftercare/aftercare/store"
)

// TestStatsWeeks: weeks start on Monday at midnight in the clinic's zone,
// a week across a DST change is 167 or 169 hours long, and the first and
// last weeks are cut at the range's ends.
func TestStatsWeeks(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, ny) }
	for _, tc := range []struct {
		name     string
		from, to time.Time
		mondays  []time.Time
		first    store.DayRange
		lastEnd  time.Time
	}{
		{"a Sunday belongs to the week before", date(2026, 11, 1), date(2026, 11, 1),
			[]time.Time{date(2026, 10, 26)}, store.DayRange{Start: date(2026, 11, 1), End: date(2026, 11, 2)}, date(2026, 11, 2)},
		{"across the end of DST", date(2026, 10, 28), date(2026, 11, 3),
			[]time.Time{date(2026, 10, 26), date(2026, 11, 2)}, store.DayRange{Start: date(2026, 10, 28), End: date(2026, 11, 2)}, date(2026, 11, 4)},
		{"whole weeks", date(2026, 11, 23), date(2026, 12, 6),
			[]time.Time{date(2026, 11, 23), date(2026, 11, 30)}, store.DayRange{Start: date(2026, 11, 23), End: date(2026, 11, 30)}, date(2026, 12, 7)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mondays, ranges := store.StatsWeeks(tc.from, tc.to, ny)
			if len(mondays) != len(tc.mondays) || len(ranges) != len(mondays) {
				t.Fatalf("mondays %v, ranges %v", mondays, ranges)
			}
			for i := range mondays {
				if !mondays[i].Equal(tc.mondays[i]) {
					t.Errorf("monday %d = %v, want %v", i, mondays[i], tc.mondays[i])
				}
				if i > 0 && !ranges[i].Start.Equal(ranges[i-1].End) {
					t.Errorf("gap between weeks %d and %d", i-1, i)
				}
			}
			if !ranges[0].Start.Equal(tc.first.Start) || !ranges[0].End.Equal(tc.first.End) {
				t.Errorf("first week %v, want %v", ranges[0], tc.first)
			}
			if end := ranges[len(ranges)-1].End; !end.Equal(tc.lastEnd) {
				t.Errorf("last week ends %v, want %v", end, tc.lastEnd)
			}
		})
	}
	// The week of the end of DST is an hour longer.
	_, r := store.StatsWeeks(date(2026, 10, 26), date(2026, 11, 1), ny)
	if d := r[0].End.Sub(r[0].Start); d != 169*time.Hour {
		t.Errorf("the week DST ends is %v long, want 169h", d)
	}
}
