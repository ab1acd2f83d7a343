package twilio

import (
	"strconv"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
)

// TestEveryCodeAndItsEffect is the whole policy for Twilio's error codes in
// one table: every code lookup knows, what kind of failure it is on the
// send path, its action, and what aftercare then does (notify.Decide) for
// a message to a patient on its first send with a day left. The same code
// in a failed receipt must carry the same action, so both paths end in the
// same effect. A code added to lookup without a row here fails the test.
func TestEveryCodeAndItsEffect(t *testing.T) {
	t.Parallel()
	const retry = notify.EffectRetry
	want := map[int]struct {
		kind   notify.Kind
		action notify.Action
		effect notify.Effect
	}{
		// Account, credentials, the clinic's sender: kept until ops fix it.
		20003: {notify.Transient, notify.ActionNone, notify.EffectNone},
		20404: {notify.Transient, notify.ActionNone, notify.EffectNone},
		20005: {notify.Transient, notify.ActionNone, notify.EffectNone},
		21222: {notify.Transient, notify.ActionNone, notify.EffectNone},
		21224: {notify.Transient, notify.ActionNone, notify.EffectNone},
		21212: {notify.Transient, notify.ActionNone, notify.EffectNone},
		21606: {notify.Transient, notify.ActionNone, notify.EffectNone},
		21659: {notify.Transient, notify.ActionNone, notify.EffectNone},
		20429: {notify.Transient, notify.ActionNone, notify.EffectNone},
		// The recipient.
		21610: {notify.Permanent, notify.ActionOptOut, notify.EffectOptOut},
		21211: {notify.Permanent, notify.ActionBadAddress, notify.EffectMarkBad},
		21614: {notify.Permanent, notify.ActionBadAddress, notify.EffectMarkBad},
		30006: {notify.Permanent, notify.ActionBadAddress, notify.EffectMarkBad},
		30003: {notify.Transient, notify.ActionRetryOnce, retry},
		30005: {notify.Permanent, notify.ActionNone, notify.EffectNone},
		21408: {notify.Permanent, notify.ActionNone, notify.EffectNone},
		21612: {notify.Permanent, notify.ActionNone, notify.EffectNone},
		// Filtering and compliance.
		30007: {notify.Permanent, notify.ActionAlertOps, notify.EffectAlertOps},
		30034: {notify.Permanent, notify.ActionAlertOps, notify.EffectAlertOps},
		30032: {notify.Permanent, notify.ActionAlertOps, notify.EffectAlertOps},
		// The message itself.
		30036: {notify.Permanent, notify.ActionNone, notify.EffectNone},
		21602: {notify.Permanent, notify.ActionNone, notify.EffectNone},
		21617: {notify.Permanent, notify.ActionNone, notify.EffectNone},
	}
	for code := 0; code < 100000; code++ {
		if _, ok := lookup(code); ok {
			if _, listed := want[code]; !listed {
				t.Errorf("code %d is in lookup but not in this table: add it with its effect", code)
			}
		}
	}
	now := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	for code, w := range want {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			e := Classify(rest(400, code, ""))
			if e.Kind != w.kind || e.Action != w.action {
				t.Errorf("send: kind %v action %q; want %v %q", e.Kind, e.Action, w.kind, w.action)
			}
			final, _, action := ClassifyStatusCallback("undelivered", strconv.Itoa(code))
			if final != aftercare.StatusFailed || action != e.Action {
				t.Errorf("receipt: %q action %q; the send path has action %q", final, action, e.Action)
			}
			f := notify.Failure{Action: e.Action, Sends: 1, Now: now, StaleAt: now.Add(24 * time.Hour)}
			if got := notify.Decide(f).Effect; got != w.effect {
				t.Errorf("effect %q, want %q", got, w.effect)
			}
		})
	}
}
