package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatsQueryPlans: on SQLite, the stats queries reach messages,
// consents, replies, concerns and the other enrollments of a patient
// through indexes (SEARCH), never by reading a whole table (SCAN), so a
// clinic's stats cost what its own enrollments hold, not what the
// database holds.
func TestStatsQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	values := "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))"
	for _, tc := range []struct {
		name  string
		q     string
		extra int
	}{
		{"enrollments", qStatsEnrollments, 3},
		{"messages", qStatsMessages, 0},
		{"opt-outs", qStatsOptOuts, 0},
		{"replies", qStatsReplies, 0},
		{"red flags", qStatsRedFlags, 1},
		{"booking clicks", qStatsBookingClicks, 0},
		{"booking events", qStatsBookingEvents, 1},
		{"check-in answers", qStatsCheckins, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []any{0, int64(0), time.Hour.Milliseconds(), int64(1)}
			for range tc.extra {
				args = append(args, int64(1))
			}
			rows, err := s.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+fmt.Sprintf(tc.q, values), args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", strings.Join(plan, "\n"))
			for _, line := range plan {
				// Only the weeks (a few constant rows) may be scanned.
				if strings.HasPrefix(line, "SCAN ") && line != "SCAN w" && line != "SCAN CONSTANT ROW" {
					t.Errorf("a table is read whole: %q", line)
				}
			}
		})
	}
}
