package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/store"
)

// fakeStats answers Stats with fixed rows for the weeks asked.
type fakeStats struct{ rows []store.StatsRow }

func (f fakeStats) Stats(ctx context.Context, clinicID int64, from, to time.Time) (store.Stats, error) {
	loc, _ := time.LoadLocation("America/New_York")
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc)
	weeks, _ := store.StatsWeeks(from, to, loc)
	st := store.Stats{From: from, To: to, Location: loc, Weeks: weeks}
	for _, r := range f.rows {
		r.Week = time.Date(r.Week.Year(), r.Week.Month(), r.Week.Day(), 0, 0, 0, 0, loc)
		st.Rows = append(st.Rows, r)
	}
	return st, nil
}

func goldenStatsRows() []store.StatsRow {
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	return []store.StatsRow{
		{Week: mon, Treatment: "Microneedling", Enrollments: 3, Patients: 3,
			SMS: store.ChannelStats{Planned: 12, Sent: 1, Delivered: 8, Failed: 3, Cancelled: 0,
				Failures: []store.ReasonCount{{Reason: "not a valid phone number", Count: 2}, {Reason: "=HYPERLINK(\"http://x\")", Count: 1}}},
			Email:      store.ChannelStats{Planned: 4, Delivered: 4},
			OptOutsSMS: 1, Replies: 5, RedFlags: 2, Acks: []time.Duration{10 * time.Minute, 50 * time.Minute},
			SeriesOpen: 3, Rebooked: 1, RebookPending: 1,
			BookingClicks: 4, BookingClickers: 2, AppointmentsBooked: 2, AppointmentsCancelled: 1,
			Checkins: store.CheckinCounts{Healing: 3, NotHealing: 2, RedFlag: 1, Enrollments: 3, NotHealingEnrollments: 2}},
		{Week: mon, Treatment: "-2+3 peel", Enrollments: 1, Patients: 1, SMS: store.ChannelStats{Planned: 2, Cancelled: 2}},
		{Week: mon.AddDate(0, 0, 7), Treatment: "Microneedling", Enrollments: 1, Patients: 1, RedFlags: 1},
	}
}

// TestGoldenStats pins the wire format of GET /v1/stats in JSON and CSV,
// and of its errors, on a fake store.
func TestGoldenStats(t *testing.T) {
	t.Parallel()
	fx := newFixture(zero)
	srv := api.New(api.Deps{Store: fx, Enroller: fx, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Stats: fakeStats{rows: goldenStatsRows()}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	var got bytes.Buffer
	for _, c := range []struct{ path, accept string }{
		{"/v1/stats?from=2026-11-23&to=2026-12-13", ""},
		{"/v1/stats?from=2026-11-23&to=2026-12-06&treatment=microneedling", ""},
		{"/v1/stats?from=2026-11-23&to=2026-12-06", "text/csv"},
		{"/v1/stats?from=2026-11-23&to=2026-12-06&format=csv", ""},
		{"/v1/stats?from=2026-11-31&to=yesterday&format=xml&page=2", ""},
		{"/v1/stats?from=2026-12-06&to=2026-11-23", ""},
		{"/v1/stats?from=2020-01-01&to=2026-01-01", ""},
		{"/v1/stats", ""},
	} {
		req, err := http.NewRequest("GET", ts.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+goldenKey)
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&got, "### GET %s Accept: %s\nstatus: %d\nContent-Type: %s\n", c.path, c.accept, resp.StatusCode, resp.Header.Get("Content-Type"))
		if d := resp.Header.Get("Content-Disposition"); d != "" {
			fmt.Fprintf(&got, "Content-Disposition: %s\n", d)
		}
		got.Write(raw)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "stats.txt"), got.Bytes())
}

// TestStatsBadQueryListsEveryProblem: a query with several bad
// parameters is refused with 400 and each problem named.
func TestStatsBadQueryListsEveryProblem(t *testing.T) {
	t.Parallel()
	e := setup(t)
	resp, out := e.do(t, "GET", "/v1/stats?from=2026-13-01&to=x&format=pdf&treatment=a%00b&extra=1", e.keyA, nil, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	fields := map[string]bool{}
	errs, _ := out["errors"].([]any)
	for _, x := range errs {
		fields[x.(map[string]any)["field"].(string)] = true
	}
	for _, f := range []string{"from", "to", "format", "treatment", "extra"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s: %v", f, out)
		}
	}
	if resp, _ := e.do(t, "GET", "/v1/stats?from=2026-11-01&to=2026-11-30", "", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a key: %d", resp.StatusCode)
	}
}

// TestStatsAreClinicScoped: each clinic's stats count only its own
// enrollments.
func TestStatsAreClinicScoped(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if resp, out := e.do(t, "POST", "/v1/enrollments", e.keyA, validBody(), nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("enroll: %d %v", resp.StatusCode, out)
	}
	q := "/v1/stats?from=2026-11-23&to=2026-11-29"
	total := func(key string) map[string]any {
		t.Helper()
		resp, out := e.do(t, "GET", q, key, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", q, resp.StatusCode, out)
		}
		return out["total"].(map[string]any)
	}
	if n := total(e.keyA)["enrollments"]; n != 1.0 {
		t.Errorf("clinic A enrollments = %v, want 1", n)
	}
	if n := total(e.keyB)["enrollments"]; n != 0.0 {
		t.Errorf("clinic B sees %v enrollments of clinic A", n)
	}
}

// TestStatsCSVDefusesFormulas: text cells a spreadsheet would run as a
// formula are prefixed with an apostrophe; numbers are left alone.
func TestStatsCSVDefusesFormulas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"=1+1", "'=1+1"}, {"+1", "'+1"}, {"-2+3 peel", "'-2+3 peel"}, {"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"}, {"\rx", "'\rx"}, {"Microneedling", "Microneedling"}, {"12", "12"}, {"", ""},
	} {
		if got := api.CSVSafe(tc.in); got != tc.want {
			t.Errorf("CSVSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	fs := fakeStats{rows: goldenStatsRows()}
	st, _ := fs.Stats(context.Background(), 1, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	var buf bytes.Buffer
	if err := api.WriteStatsCSV(&buf, st, ""); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+3 {
		t.Fatalf("%d records, want a header and 3 rows", len(recs))
	}
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would run as a formula", cell)
			}
		}
	}
}
