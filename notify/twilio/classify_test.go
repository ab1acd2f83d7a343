package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/twilio/twilio-go/client"
)

func rest(status, code int, msg string) *client.TwilioRestError {
	return &client.TwilioRestError{Status: status, Code: code, Message: msg,
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	// What twilio-go returns for a non-JSON error body.
	htmlErr := fmt.Errorf("error decoding the response for an HTTP error code: 503: %w",
		errors.New("invalid character '<' looking for beginning of value"))
	timeout := &url.Error{Op: "Post", URL: "https://api.twilio.com/x", Err: context.DeadlineExceeded}
	refused := &url.Error{Op: "Post", URL: "https://api.twilio.com/x",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	already := &notify.Error{Kind: notify.Permanent, Code: "x", Reason: "classified elsewhere"}

	tests := []struct {
		name       string
		err        error
		kind       notify.Kind
		code       string
		action     notify.Action
		retryAfter time.Duration
	}{
		{"opt out", rest(400, 21610, "Attempt to send to unsubscribed recipient"), notify.Permanent, "21610", notify.ActionOptOut, 0},
		{"invalid number", rest(400, 21211, "Invalid 'To' Phone Number: +15551234567"), notify.Permanent, "21211", notify.ActionBadAddress, 0},
		{"not mobile", rest(400, 21614, ""), notify.Permanent, "21614", notify.ActionBadAddress, 0},
		{"landline", rest(400, 30006, ""), notify.Permanent, "30006", notify.ActionBadAddress, 0},
		{"unreachable", rest(400, 30003, ""), notify.Transient, "30003", notify.ActionRetryOnce, 0},
		{"filtered", rest(400, 30007, ""), notify.Permanent, "30007", notify.ActionAlertOps, 0},
		{"unknown handset", rest(400, 30005, ""), notify.Permanent, "30005", notify.ActionNone, 0},
		{"region", rest(400, 21408, ""), notify.Permanent, "21408", notify.ActionNone, 0},
		{"not routable", rest(400, 21612, ""), notify.Permanent, "21612", notify.ActionNone, 0},
		{"other 4xx", rest(400, 21999, ""), notify.Permanent, "21999", notify.ActionNone, 0},
		{"404 message", rest(404, 20404, ""), notify.Transient, "20404", notify.ActionNone, 0},
		{"auth", rest(401, 20003, "Authenticate"), notify.Transient, "20003", notify.ActionNone, 0},
		{"unknown code, 401", rest(401, 20151, ""), notify.Transient, "20151", notify.ActionNone, 0},
		{"unknown code, 403", rest(403, 20008, ""), notify.Transient, "20008", notify.ActionNone, 0},
		{"local credential check", rest(400, 21224, "Invalid Password. Illegal chars"), notify.Transient, "21224", notify.ActionNone, 0},
		{"sender number", rest(400, 21606, ""), notify.Transient, "21606", notify.ActionNone, 0},
		{"rate limit code", rest(429, 20429, "Too Many Requests"), notify.Transient, "20429", notify.ActionNone, 0},
		{"rate limit with header", &exchangeError{err: rest(429, 20429, ""), status: 429, retryAfter: 7 * time.Second},
			notify.Transient, "20429", notify.ActionNone, 7 * time.Second},
		{"429 status, no body status", &exchangeError{err: rest(0, 12345, ""), status: 429, retryAfter: time.Second},
			notify.Transient, "12345", notify.ActionNone, time.Second},
		{"5xx JSON", rest(500, 20500, "Internal Server Error"), notify.Ambiguous, "20500", notify.ActionNone, 0},
		{"503 JSON", rest(503, 20503, ""), notify.Ambiguous, "20503", notify.ActionNone, 0},
		{"408", rest(408, 0, ""), notify.Ambiguous, "", notify.ActionNone, 0},
		{"v1 error format", &client.RestErrorV1{Code: 21610, HttpStatusCode: 400}, notify.Permanent, "21610", notify.ActionOptOut, 0},
		{"HTML 503 by text", htmlErr, notify.Ambiguous, "", notify.ActionNone, 0},
		{"HTML 503 by transport", &exchangeError{err: htmlErr, status: 503, retryAfter: 30 * time.Second},
			notify.Ambiguous, "", notify.ActionNone, 30 * time.Second},
		{"HTML 404", &exchangeError{err: errors.New("error decoding"), status: 404}, notify.Permanent, "", notify.ActionNone, 0},
		{"HTML 429", &exchangeError{err: errors.New("error decoding"), status: 429, retryAfter: 2 * time.Second},
			notify.Transient, "", notify.ActionNone, 2 * time.Second},
		{"timeout after connecting", &exchangeError{err: timeout, maybeSent: true}, notify.Ambiguous, "", notify.ActionNone, 0},
		{"timeout before connecting", &exchangeError{err: timeout, maybeSent: false}, notify.Transient, "", notify.ActionNone, 0},
		{"timeout, unknown exchange", timeout, notify.Ambiguous, "", notify.ActionNone, 0},
		{"canceled after connecting", &exchangeError{err: context.Canceled, maybeSent: true}, notify.Ambiguous, "", notify.ActionNone, 0},
		{"connection refused", refused, notify.Transient, "", notify.ActionNone, 0},
		{"DNS", &url.Error{Op: "Post", URL: "u", Err: &net.DNSError{Err: "no such host", Name: "api.twilio.com", IsNotFound: true}},
			notify.Transient, "", notify.ActionNone, 0},
		{"reset mid-answer", &exchangeError{err: io.ErrUnexpectedEOF, maybeSent: true}, notify.Ambiguous, "", notify.ActionNone, 0},
		{"unreadable 2xx body", &exchangeError{err: errors.New("invalid character"), status: 201, maybeSent: true},
			notify.Ambiguous, "", notify.ActionNone, 0},
		{"already classified", fmt.Errorf("send: %w", already), notify.Permanent, "x", notify.ActionNone, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := Classify(tt.err)
			if e.Kind != tt.kind || e.Code != tt.code || e.Action != tt.action || e.RetryAfter != tt.retryAfter {
				t.Errorf("got kind %v code %q action %q retry-after %v; want %v %q %q %v (reason %q)",
					e.Kind, e.Code, e.Action, e.RetryAfter, tt.kind, tt.code, tt.action, tt.retryAfter, e.Reason)
			}
			if e.Reason == "" {
				t.Error("empty reason")
			}
			if !errors.Is(e, tt.err) && e != already {
				t.Error("underlying error not wrapped")
			}
			if strings.Contains(e.Error(), "5551234567") {
				t.Errorf("reason leaks a phone number: %q", e.Error())
			}
		})
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
}

func TestClassifyReasonQuotesTwilio(t *testing.T) {
	t.Parallel()
	e := Classify(rest(400, 21610, "Attempt to send to unsubscribed recipient"))
	want := "patient has opted out of texts from this number (replied STOP) (Twilio 21610: Attempt to send to unsubscribed recipient)"
	if e.Reason != want {
		t.Errorf("reason = %q\nwant     %q", e.Reason, want)
	}
	e = Classify(rest(400, 21211, "The 'To' number +1 (555) 123-4567 is not a valid phone number."))
	if !strings.Contains(e.Reason, "The 'To' number [number] is not a valid phone number.") {
		t.Errorf("reason = %q", e.Reason)
	}
}

func TestClassifyStatusCallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status, code string
		final        aftercare.Status
		action       notify.Action
		reasonHas    string
	}{
		{"queued", "", aftercare.StatusSent, notify.ActionNone, ""},
		{"accepted", "", aftercare.StatusSent, notify.ActionNone, ""},
		{"sending", "", aftercare.StatusSent, notify.ActionNone, ""},
		{"sent", "", aftercare.StatusSent, notify.ActionNone, ""},
		{"scheduled", "", aftercare.StatusSent, notify.ActionNone, ""},
		{"delivered", "", aftercare.StatusDelivered, notify.ActionNone, ""},
		{"read", "", aftercare.StatusDelivered, notify.ActionNone, ""},
		{"canceled", "", aftercare.StatusCancelled, notify.ActionNone, "canceled"},
		{"failed", "", aftercare.StatusFailed, notify.ActionNone, "failed"},
		{"undelivered", "30006", aftercare.StatusFailed, notify.ActionBadAddress, "landline"},
		{"undelivered", "30003", aftercare.StatusFailed, notify.ActionRetryOnce, "unreachable"},
		{"failed", "21610", aftercare.StatusFailed, notify.ActionOptOut, "opted out"},
		{"undelivered", "30007", aftercare.StatusFailed, notify.ActionAlertOps, "filtered"},
		{"failed", "21211", aftercare.StatusFailed, notify.ActionBadAddress, "21211"},
		{"failed", "21614", aftercare.StatusFailed, notify.ActionBadAddress, "mobile"},
		{"undelivered", "30005", aftercare.StatusFailed, notify.ActionNone, "30005"},
		{"undelivered", "30036", aftercare.StatusFailed, notify.ActionNone, "expired"},
		{"undelivered", "30008", aftercare.StatusFailed, notify.ActionNone, "30008"},
		{"failed", "junk", aftercare.StatusFailed, notify.ActionNone, "failed"},
		{" Delivered ", "", aftercare.StatusDelivered, notify.ActionNone, ""},
		{"receiving", "", "", notify.ActionNone, "unknown"},
		{"", "", "", notify.ActionNone, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.code, func(t *testing.T) {
			t.Parallel()
			final, reason, action := ClassifyStatusCallback(tt.status, tt.code)
			if final != tt.final || action != tt.action || !strings.Contains(reason, tt.reasonHas) {
				t.Errorf("got %q %q %q; want %q %q, reason containing %q", final, reason, action, tt.final, tt.action, tt.reasonHas)
			}
			if final == aftercare.StatusFailed && reason == "" {
				t.Error("failed without a reason")
			}
		})
	}
}
