package notify

import "time"

// The provider-action policy: what aftercare does about a failed message
// beyond recording the failure. It is decided here once, by Decide, for
// every path a failure can arrive by: an error from the provider's API
// while sending (the dispatcher) and a failed delivery receipt, whether
// pushed by a status callback or fetched by reconcile (inbound). Each
// provider maps its own codes to an Action in one table of its own
// (notify/twilio's lookup, notify/smtp's classifier); Decide maps an
// Action to an Effect.

// UnreachableSends is how many times in all a message goes to the
// provider when the recipient's handset is unreachable (ActionRetryOnce):
// the first send and one retry. It counts every send of the message (the
// store keeps one attempts counter), so a message that already needed a
// retry for another reason is not sent a third time.
const UnreachableSends = 2

// UnreachableRetryDelay is the longest wait before that one retry.
const UnreachableRetryDelay = 30 * time.Minute

// Effect is what aftercare does about a failure beyond recording it.
type Effect string

// Effects Decide may return.
const (
	// EffectNone: only the failure is recorded (and, while sending,
	// retried or failed according to its Kind).
	EffectNone Effect = ""
	// EffectOptOut: the patient is marked opted out of the channel
	// (consent method "provider"); their pending messages on it are
	// cancelled.
	EffectOptOut Effect = "opt_out"
	// EffectMarkBad: the patient's number or address on the channel is
	// flagged for the clinic, their pending messages on it are skipped,
	// and texts fall back to email where the patient agreed to email.
	EffectMarkBad Effect = "mark_bad"
	// EffectRetry: the message is sent once more, not before
	// Decision.RetryAt.
	EffectRetry Effect = "retry"
	// EffectGiveUp: the one retry is spent (or there is no time left for
	// it); the message fails for good.
	EffectGiveUp Effect = "give_up"
	// EffectAlertOps: the provider filtered the message; logged at error
	// level for ops.
	EffectAlertOps Effect = "alert_ops"
	// EffectCheckClinic: a staff alert's route (the clinic's on_call_phone
	// or alert_email) has opted out or cannot receive. Logged at error
	// level for the clinic; no patient's record is touched.
	EffectCheckClinic Effect = "check_clinic"
)

// Failure is what Decide needs to know about a failed message.
type Failure struct {
	Action Action // what the provider's error code asks for
	// Staff says the message is an alert to clinic staff (it has a
	// Recipient of its own), not a message to the patient.
	Staff bool
	// Sends is how many times the message has been handed to the
	// provider, the failed send included (the message's attempts).
	Sends   int
	Now     time.Time // when the failure became known
	StaleAt time.Time // when the message is no longer worth sending
}

// Decision is the policy's answer for one Failure.
type Decision struct {
	Effect  Effect
	RetryAt time.Time // for EffectRetry: send again at this time
	// Reason says why in words for staff: the detail of the consent
	// record (EffectOptOut), the message's event or reason (EffectRetry,
	// EffectGiveUp), the log line (EffectCheckClinic). Callers may append
	// the provider's code.
	Reason string
}

// Decide is the one provider-action policy:
//
//	Action           to the patient                       to clinic staff
//	ActionNone       EffectNone                           EffectNone
//	ActionOptOut     EffectOptOut                         EffectCheckClinic
//	ActionBadAddress EffectMarkBad                        EffectCheckClinic
//	ActionAlertOps   EffectAlertOps                       EffectAlertOps
//	ActionRetryOnce  EffectRetry at Now + min((StaleAt − Now)/2, UnreachableRetryDelay)
//	                 while Sends < UnreachableSends and that is before StaleAt;
//	                 EffectGiveUp otherwise (staff alike)
//
// The retry cap is chosen once, here: a text to an unreachable handset
// (Twilio 30003: switched off, out of coverage) is sent at most
// UnreachableSends times, and the retry waits half the time left before
// the step goes stale but never more than UnreachableRetryDelay. Half the
// window keeps the retry inside short windows; the 30-minute bound keeps
// aftercare instructions close to the time they were planned for (a
// handset back within the half hour gets tonight's care text tonight,
// not days later in a step with a long window) and covers the common
// cases (a tunnel, a flight's taxi, a flat battery on charge). A second
// failure ends the message, and the clinic sees why. Before this function
// the dispatcher waited half the window with no bound (15 days for a
// 30-day step) while receipts waited at most 30 minutes.
//
// The Action alone decides: a failed receipt carries no Kind, and an
// ActionRetryOnce error is retried once whatever its Kind. Decide is pure:
// the same Failure always gets the same Decision.
func Decide(f Failure) Decision {
	switch f.Action {
	case ActionOptOut:
		if f.Staff {
			return Decision{Effect: EffectCheckClinic, Reason: "a staff alert number has opted out at the provider"}
		}
		return Decision{Effect: EffectOptOut, Reason: "provider reports the recipient unsubscribed"}
	case ActionBadAddress:
		if f.Staff {
			return Decision{Effect: EffectCheckClinic, Reason: "a staff alert number or address cannot receive"}
		}
		return Decision{Effect: EffectMarkBad}
	case ActionAlertOps:
		return Decision{Effect: EffectAlertOps}
	case ActionRetryOnce:
		if f.Sends >= UnreachableSends {
			return Decision{Effect: EffectGiveUp, Reason: "still unreachable after one retry"}
		}
		wait := min(f.StaleAt.Sub(f.Now)/2, UnreachableRetryDelay)
		at := f.Now.Add(wait)
		if wait < 0 || !at.Before(f.StaleAt) {
			return Decision{Effect: EffectGiveUp, Reason: "unreachable, and no time left to retry before the step goes stale"}
		}
		return Decision{Effect: EffectRetry, RetryAt: at, Reason: "handset unreachable: one more try"}
	}
	return Decision{Effect: EffectNone}
}
