package notify_test

import (
	"testing"
	"time"

	"github.com/aftercare/aftercare/notify"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	const h = time.Hour
	tests := []struct {
		name    string
		f       notify.Failure
		effect  notify.Effect
		retryAt time.Time // zero unless EffectRetry
	}{
		{"no action", notify.Failure{Sends: 1, StaleAt: now.Add(h)}, notify.EffectNone, time.Time{}},
		{"no action, staff", notify.Failure{Staff: true, Sends: 1, StaleAt: now.Add(h)}, notify.EffectNone, time.Time{}},
		{"opt out", notify.Failure{Action: notify.ActionOptOut, Sends: 1, StaleAt: now.Add(h)}, notify.EffectOptOut, time.Time{}},
		{"opt out, stale", notify.Failure{Action: notify.ActionOptOut, Sends: 3, StaleAt: now.Add(-h)}, notify.EffectOptOut, time.Time{}},
		{"opt out, staff", notify.Failure{Action: notify.ActionOptOut, Staff: true, Sends: 1}, notify.EffectCheckClinic, time.Time{}},
		{"bad address", notify.Failure{Action: notify.ActionBadAddress, Sends: 1, StaleAt: now.Add(h)}, notify.EffectMarkBad, time.Time{}},
		{"bad address, staff", notify.Failure{Action: notify.ActionBadAddress, Staff: true, Sends: 1}, notify.EffectCheckClinic, time.Time{}},
		{"alert ops", notify.Failure{Action: notify.ActionAlertOps, Sends: 1}, notify.EffectAlertOps, time.Time{}},
		{"alert ops, staff", notify.Failure{Action: notify.ActionAlertOps, Staff: true, Sends: 1}, notify.EffectAlertOps, time.Time{}},
		{"unreachable, short window: half of it", notify.Failure{Action: notify.ActionRetryOnce, Sends: 1, StaleAt: now.Add(40 * time.Minute)},
			notify.EffectRetry, now.Add(20 * time.Minute)},
		{"unreachable, exactly an hour left", notify.Failure{Action: notify.ActionRetryOnce, Sends: 1, StaleAt: now.Add(h)},
			notify.EffectRetry, now.Add(notify.UnreachableRetryDelay)},
		{"unreachable, 30-day window: capped", notify.Failure{Action: notify.ActionRetryOnce, Sends: 1, StaleAt: now.Add(30 * 24 * h)},
			notify.EffectRetry, now.Add(notify.UnreachableRetryDelay)},
		{"unreachable, staff alike", notify.Failure{Action: notify.ActionRetryOnce, Staff: true, Sends: 1, StaleAt: now.Add(24 * h)},
			notify.EffectRetry, now.Add(notify.UnreachableRetryDelay)},
		{"unreachable, 2 seconds left", notify.Failure{Action: notify.ActionRetryOnce, Sends: 1, StaleAt: now.Add(2 * time.Second)},
			notify.EffectRetry, now.Add(time.Second)},
		{"unreachable, stale now", notify.Failure{Action: notify.ActionRetryOnce, Sends: 1, StaleAt: now}, notify.EffectGiveUp, time.Time{}},
		{"unreachable, stale before", notify.Failure{Action: notify.ActionRetryOnce, Sends: 1, StaleAt: now.Add(-h)}, notify.EffectGiveUp, time.Time{}},
		{"unreachable, retry spent", notify.Failure{Action: notify.ActionRetryOnce, Sends: notify.UnreachableSends, StaleAt: now.Add(24 * h)},
			notify.EffectGiveUp, time.Time{}},
		{"unreachable after other retries", notify.Failure{Action: notify.ActionRetryOnce, Sends: 5, StaleAt: now.Add(24 * h)},
			notify.EffectGiveUp, time.Time{}},
		{"unknown action", notify.Failure{Action: "something new", Sends: 1, StaleAt: now.Add(h)}, notify.EffectNone, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.f.Now = now
			got := notify.Decide(tt.f)
			if got.Effect != tt.effect || !got.RetryAt.Equal(tt.retryAt) {
				t.Errorf("Decide = %q at %v; want %q at %v", got.Effect, got.RetryAt, tt.effect, tt.retryAt)
			}
			switch got.Effect {
			case notify.EffectRetry:
				if !got.RetryAt.Before(tt.f.StaleAt) || got.RetryAt.Before(now) || got.RetryAt.After(now.Add(notify.UnreachableRetryDelay)) {
					t.Errorf("retry at %v: outside [now, min(stale %v, now+%v)]", got.RetryAt, tt.f.StaleAt, notify.UnreachableRetryDelay)
				}
				fallthrough
			case notify.EffectGiveUp, notify.EffectOptOut, notify.EffectCheckClinic:
				if got.Reason == "" {
					t.Error("no reason")
				}
			}
			if again := notify.Decide(tt.f); again != got {
				t.Errorf("not pure: %+v then %+v", got, again)
			}
		})
	}
}
