package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/twilio/twilio-go/client"
)

// codeInfo is what aftercare does about one Twilio error code.
type codeInfo struct {
	kind   notify.Kind
	action notify.Action
	reason string // short, for clinic staff
}

// lookup is the table of Twilio error codes aftercare treats specially. It
// serves both API errors (Classify) and delivery receipts
// (ClassifyStatusCallback, which uses only action and reason).
//
// Authentication and account configuration errors are Transient, not
// Permanent: they say nothing about the message or the patient, every
// message would fail the same way, and failing them all permanently would
// throw away a day of aftercare because of a rotated token. Kept as
// transient, messages wait (until they go stale) while ops fix the
// credentials, and the Reason says what to fix.
func lookup(code int) (codeInfo, bool) {
	const cfg = "; messages are kept until ops fix the Twilio configuration"
	switch code {
	// Account and credentials.
	case 20003:
		return codeInfo{notify.Transient, notify.ActionNone, "Twilio refused our credentials" + cfg}, true
	case 20404:
		return codeInfo{notify.Transient, notify.ActionNone, "Twilio account not found (check the account SID)" + cfg}, true
	case 20005:
		return codeInfo{notify.Transient, notify.ActionNone, "Twilio account is not active" + cfg}, true
	case 21222, 21224:
		return codeInfo{notify.Transient, notify.ActionNone, "Twilio credentials are malformed" + cfg}, true
	// The clinic's sender, not the patient, is at fault.
	case 21212, 21606, 21659:
		return codeInfo{notify.Transient, notify.ActionNone, "the clinic's Twilio sender number cannot send this message" + cfg}, true
	// Rate limiting: never processed, safe to retry.
	case 20429:
		return codeInfo{notify.Transient, notify.ActionNone, "Twilio rate limit reached; will retry"}, true
	// The recipient.
	case 21610:
		return codeInfo{notify.Permanent, notify.ActionOptOut, "patient has opted out of texts from this number (replied STOP)"}, true
	case 21211:
		return codeInfo{notify.Permanent, notify.ActionBadAddress, "not a valid phone number"}, true
	case 21614:
		return codeInfo{notify.Permanent, notify.ActionBadAddress, "number cannot receive texts (not a mobile number)"}, true
	case 30006:
		return codeInfo{notify.Permanent, notify.ActionBadAddress, "number cannot receive texts (landline or unreachable carrier)"}, true
	case 30003:
		return codeInfo{notify.Transient, notify.ActionRetryOnce, "phone unreachable (switched off or out of coverage)"}, true
	case 30005:
		return codeInfo{notify.Permanent, notify.ActionNone, "unknown number at the carrier"}, true
	case 21408:
		return codeInfo{notify.Permanent, notify.ActionNone, "texting this country is not enabled on the Twilio account"}, true
	case 21612:
		return codeInfo{notify.Permanent, notify.ActionNone, "this number cannot be texted from the clinic's sender"}, true
	// Filtering and compliance: ops must look.
	case 30007:
		return codeInfo{notify.Permanent, notify.ActionAlertOps, "carrier filtered the message (spam filter)"}, true
	case 30034:
		return codeInfo{notify.Permanent, notify.ActionAlertOps, "sender number is not registered for US A2P 10DLC"}, true
	case 30032:
		return codeInfo{notify.Permanent, notify.ActionAlertOps, "toll-free sender number is not verified"}, true
	// The message itself.
	case 30036:
		return codeInfo{notify.Permanent, notify.ActionNone, "expired in Twilio's queue before it could be sent"}, true
	case 21602:
		return codeInfo{notify.Permanent, notify.ActionNone, "message text is empty"}, true
	case 21617:
		return codeInfo{notify.Permanent, notify.ActionNone, "message text is too long (over 1600 characters)"}, true
	}
	return codeInfo{}, false
}

// byStatus classifies an error by HTTP status when its code is not in the
// table (or there is no code).
func byStatus(status int) (notify.Kind, string) {
	switch {
	case status == 429:
		return notify.Transient, "Twilio rate limit reached; will retry"
	case status == 401 || status == 403:
		return notify.Transient, "Twilio refused our credentials or permissions; messages are kept until ops fix the Twilio configuration"
	case status == 408:
		return notify.Ambiguous, "Twilio timed out reading the request; the message may have been sent"
	case status >= 500:
		return notify.Ambiguous, fmt.Sprintf("Twilio server error (HTTP %d); the message may have been sent", status)
	case status >= 400:
		return notify.Permanent, "Twilio rejected the message"
	}
	return notify.Ambiguous, "unexpected answer from Twilio; the message may have been sent"
}

// Classify turns an error from this package's calls to Twilio into a
// *notify.Error. It is the one place Twilio failures are classified:
//
//   - A *notify.Error in the chain is returned as is.
//   - Twilio's JSON errors (*client.TwilioRestError) go by error code first
//     (see lookup: 21610 opt-out, 21211/21614/30006 bad address, 30003 retry
//     once, 30007 alert ops, 20003/20404 config …), then by HTTP status:
//     429 transient, 401/403 transient (config), 5xx and 408 ambiguous,
//     other 4xx permanent. Code is Twilio's code as a string.
//   - Non-JSON error bodies (an HTML 503 from a load balancer) reach us as a
//     plain error; they go by the status the transport saw, or failing that
//     the status in twilio-go's error text.
//   - Transport errors: if no connection was obtained (DNS failure,
//     connection refused, timeout while dialing) nothing was sent and the
//     error is Transient; after that (timeouts, resets, unreadable answers)
//     the message may have been sent and the error is Ambiguous.
//
// RetryAfter carries the Retry-After header of a 429 (or 503), captured by
// the transport because twilio-go's error values do not expose headers; it
// is only available for errors returned by Sender methods.
func Classify(err error) *notify.Error {
	if err == nil {
		return nil
	}
	var ne *notify.Error
	if errors.As(err, &ne) {
		return ne
	}
	var x *exchangeError
	status, retryAfter, maybeSent := 0, time.Duration(0), true
	if errors.As(err, &x) {
		status, retryAfter, maybeSent = x.status, x.retryAfter, x.maybeSent
	}

	var te *client.TwilioRestError
	if errors.As(err, &te) {
		st := te.Status
		if st == 0 {
			st = status
		}
		return fromCode(te.Code, st, te.Message, retryAfter, err)
	}
	var v1 *client.RestErrorV1
	if errors.As(err, &v1) {
		st := v1.HttpStatusCode
		if st == 0 {
			st = status
		}
		return fromCode(v1.Code, st, v1.Message, retryAfter, err)
	}

	if status == 0 {
		status = statusFromText(err.Error())
	}
	if status >= 400 {
		kind, reason := byStatus(status)
		return &notify.Error{Kind: kind, RetryAfter: retryAfter, Err: err, Throttled: status == http.StatusTooManyRequests,
			Reason: reason + " (no error details in Twilio's answer)"}
	}
	return fromTransport(err, maybeSent)
}

func fromCode(code, status int, msg string, retryAfter time.Duration, err error) *notify.Error {
	e := &notify.Error{Code: strconv.Itoa(code), Err: err}
	if info, ok := lookup(code); ok {
		e.Kind, e.Action, e.Reason = info.kind, info.action, info.reason
	} else {
		e.Kind, e.Reason = byStatus(status)
	}
	if code == 0 {
		e.Code = ""
	}
	if m := clean(msg); m != "" {
		if e.Code != "" {
			e.Reason += " (Twilio " + e.Code + ": " + m + ")"
		} else {
			e.Reason += " (Twilio: " + m + ")"
		}
	}
	if e.Kind != notify.Permanent {
		e.RetryAfter = retryAfter
	}
	e.Throttled = code == 20429 || status == http.StatusTooManyRequests
	return e
}

func fromTransport(err error, maybeSent bool) *notify.Error {
	cause := innermost(err)
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return &notify.Error{Kind: notify.Transient, Err: err,
			Reason: "could not look up Twilio's address; nothing was sent (" + cause + ")"}
	case errors.As(err, &opErr) && opErr.Op == "dial", !maybeSent:
		return &notify.Error{Kind: notify.Transient, Err: err,
			Reason: "could not connect to Twilio; nothing was sent (" + cause + ")"}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &notify.Error{Kind: notify.Ambiguous, Err: err,
			Reason: "no answer from Twilio in time; the message may have been sent"}
	case errors.Is(err, context.Canceled):
		return &notify.Error{Kind: notify.Ambiguous, Err: err,
			Reason: "interrupted while waiting for Twilio; the message may have been sent"}
	}
	return &notify.Error{Kind: notify.Ambiguous, Err: err,
		Reason: "no usable answer from Twilio; the message may have been sent (" + cause + ")"}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// innermost is the text of the deepest error in a single-wrap chain: for a
// *url.Error that drops the method and URL.
func innermost(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return clean(err.Error())
		}
		err = next
	}
}

var (
	statusTextRe = regexp.MustCompile(`HTTP error code: (\d{3})`)
	// Phone-number-like runs of digits; Twilio quotes the number in some
	// messages (e.g. 21211) and Reason ends up in logs.
	numberRe = regexp.MustCompile(`\+?\d[\d ().-]{5,}\d`)
)

// statusFromText finds the status in twilio-go's error for a non-JSON
// error body ("error decoding the response for an HTTP error code: 503").
func statusFromText(s string) int {
	m := statusTextRe.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// clean redacts phone numbers and bounds the length of text from Twilio.
func clean(s string) string {
	s = strings.TrimSpace(numberRe.ReplaceAllString(s, "[number]"))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// ClassifyStatusCallback maps a delivery receipt (Twilio's MessageStatus and
// ErrorCode) to the message's aftercare status, a reason for staff and the
// action the error code asks for:
//
//	delivered, read                         → delivered
//	undelivered, failed                     → failed, with the code's reason and action
//	                                          (21610 opt out, 21211/21614/30006 bad address,
//	                                          30003 retry once, 30007 alert ops …)
//	queued, accepted, scheduled, sending, sent → sent (not final: wait for more)
//	canceled                                → cancelled
//
// An unknown status returns "" and the caller should ignore the receipt.
func ClassifyStatusCallback(status string, errorCode string) (final aftercare.Status, reason string, action notify.Action) {
	st := strings.ToLower(strings.TrimSpace(status))
	switch st {
	case "delivered", "read":
		return aftercare.StatusDelivered, "", notify.ActionNone
	case "queued", "accepted", "scheduled", "sending", "sent":
		return aftercare.StatusSent, "", notify.ActionNone
	case "canceled", "cancelled":
		return aftercare.StatusCancelled, "canceled at Twilio", notify.ActionNone
	case "undelivered", "failed":
		errorCode = strings.TrimSpace(errorCode)
		code, err := strconv.Atoi(errorCode)
		if errorCode == "" || err != nil || code == 0 {
			return aftercare.StatusFailed, "Twilio reported the message " + st, notify.ActionNone
		}
		if info, ok := lookup(code); ok {
			return aftercare.StatusFailed, fmt.Sprintf("%s (Twilio %d, %s)", info.reason, code, st), info.action
		}
		return aftercare.StatusFailed, fmt.Sprintf("Twilio reported the message %s (error %d)", st, code), notify.ActionNone
	}
	if len(st) > 32 {
		st = st[:32]
	}
	return "", fmt.Sprintf("unknown Twilio message status %q", st), notify.ActionNone
}
