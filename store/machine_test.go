package store

import (
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

func TestLegal(t *testing.T) {
	t.Parallel()
	const (
		sch  = aftercare.StatusScheduled
		snd  = aftercare.StatusSending
		sent = aftercare.StatusSent
		del  = aftercare.StatusDelivered
		fail = aftercare.StatusFailed
		skip = aftercare.StatusSkipped
		canc = aftercare.StatusCancelled
	)
	for _, tc := range []struct {
		from, to aftercare.Status
		want     bool
	}{
		{"", sch, true}, {"", skip, true}, {"", sent, false},
		{sch, snd, true}, {sch, canc, true}, {sch, skip, true}, {sch, fail, true}, {sch, sent, false}, {sch, del, false},
		{snd, sent, true}, {snd, fail, true}, {snd, skip, true}, {snd, sch, true}, {snd, canc, false},
		{sent, del, true}, {sent, fail, true}, {sent, sch, false}, {sent, snd, false},
		{sch, sch, true}, {snd, snd, true}, {sent, sent, true},
		// Final for the machine; a person may reopen failed (resend) or
		// cancelled (opting back in) to scheduled, nothing else.
		{fail, sch, true}, {canc, sch, true}, {skip, sch, false}, {del, fail, false}, {del, sch, false},
		{fail, snd, false}, {canc, snd, false}, {fail, fail, true},
	} {
		if got := Legal(tc.from, tc.to); got != tc.want {
			t.Errorf("Legal(%q, %q) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	for _, s := range aftercare.Statuses {
		if s.Final() && len(legal[s]) > 0 && (len(legal[s]) != 1 || legal[s][0] != aftercare.StatusScheduled) {
			t.Errorf("final status %s has transitions %v (only a reopening to scheduled is allowed)", s, legal[s])
		}
	}
}

func TestStaleEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attempts int
		lastErr  string
		want     aftercare.Status
		reason   string
	}{
		{0, "", aftercare.StatusSkipped, "stale: not sent before its window closed"},
		{2, "timeout", aftercare.StatusFailed, "gave up: step went stale after 2 attempt(s); last error: timeout"},
	} {
		got, reason := staleEnd(tc.attempts, tc.lastErr)
		if got != tc.want || !strings.EqualFold(reason, tc.reason) {
			t.Errorf("staleEnd(%d, %q) = %s %q, want %s %q", tc.attempts, tc.lastErr, got, reason, tc.want, tc.reason)
		}
	}
}
