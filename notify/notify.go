// Package notify defines how aftercare hands a message to a delivery
// provider and how a provider says whether a failure is worth retrying.
// Providers live in subpackages (console, twilio, smtp), each importing this
// package, never the other way round.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aftercare/aftercare"
)

// Message is what a provider needs to deliver one outbox row.
type Message struct {
	ID       int64 // outbox id; stable across retries
	ClinicID int64
	Channel  aftercare.Channel
	Step     string
	To       string // E.164 phone for SMS, address for email
	ToName   string // patient's full name, for email headers
	Subject  string // email only
	Body     string // SMS text, or the email's plain-text part
	HTMLBody string // email only
	StaleAt  time.Time
	Attempt  int // 1 for the first try
	// Sender settings of the clinic (empty means the provider's default).
	From                string
	MessagingServiceSID string
	ReplyTo             string
	ClinicName          string
	// UnsubscribeURL is the patient's one-click unsubscribe link (email).
	UnsubscribeURL string
	// Attachments such as a calendar invitation (email only).
	Attachments []Attachment
}

// Attachment is a file carried by an email.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Sender delivers messages on one channel.
type Sender interface {
	// Send delivers m and returns the provider's id for it. A failure is
	// returned as an *Error saying whether to retry.
	Send(ctx context.Context, m Message) (providerID string, err error)
}

// Finder is implemented by providers that can tell whether an earlier,
// ambiguous attempt actually reached them (Twilio has no idempotency key, so
// a timed-out send is looked up before it is sent again).
type Finder interface {
	// Find returns the provider id of m if the provider already has it, or
	// "" if it does not.
	Find(ctx context.Context, m Message, since time.Time) (providerID string, err error)
}

// Kind classifies a send failure.
type Kind int

// Failure kinds.
const (
	// Transient failures are retried with backoff until the step is stale.
	Transient Kind = iota
	// Permanent failures fail the message at once.
	Permanent
	// Ambiguous failures may or may not have reached the provider (timeout,
	// connection reset after the request was written, 5xx). They are retried,
	// but only after the provider has been asked whether it has the message.
	Ambiguous
)

func (k Kind) String() string {
	switch k {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Ambiguous:
		return "ambiguous"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Action is what a provider's error code says about the recipient or the
// message, beyond whether to retry. Each provider sets it from its codes;
// Decide says what aftercare does about it.
type Action string

// Actions a provider error may request.
const (
	ActionNone Action = ""
	// ActionOptOut: the recipient has opted out at the provider (Twilio 21610);
	// mark the patient opted out of the channel and skip its remaining messages.
	ActionOptOut Action = "opt_out"
	// ActionBadAddress: the number or address can never receive on this
	// channel; flag it for the clinic and fall back to the other channel.
	ActionBadAddress Action = "bad_address"
	// ActionAlertOps: the provider filtered the message; ops must look.
	ActionAlertOps Action = "alert_ops"
	// ActionRetryOnce: the handset is unreachable for now (Twilio 30003);
	// retry a single time later within the stale window (see Decide for
	// when and how often).
	ActionRetryOnce Action = "retry_once"
)

// Error is a classified provider failure.
type Error struct {
	Kind       Kind
	Code       string        // provider error code, e.g. "21610" or "550"
	Reason     string        // short human text, safe to show to clinic staff
	RetryAfter time.Duration // provider's hint, zero if none
	// Throttled says the provider refused because we sent too fast (HTTP
	// 429, Twilio 20429): nothing was sent, and the dispatcher slows the
	// sender down (see scheduler's adaptive limits) rather than counting a
	// failed attempt.
	Throttled bool
	Action    Action
	Err       error // underlying error
}

func (e *Error) Error() string {
	s := e.Kind.String()
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil && e.Reason == "" {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Classify returns the *Error in err's chain, or treats an unknown error as
// ambiguous (we cannot know whether it reached the provider).
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Ambiguous, Reason: err.Error(), Err: err}
}

// SenderFunc adapts a function to a Sender; handy in tests.
type SenderFunc func(ctx context.Context, m Message) (string, error)

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, m Message) (string, error) { return f(ctx, m) }
