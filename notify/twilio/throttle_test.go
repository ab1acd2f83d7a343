package twilio_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/notify/twilio"
)

// TestThrottledIsReported: Twilio's 429/20429, JSON or not, comes back
// Throttled with its Retry-After, so the dispatcher slows the sender down;
// other failures are not Throttled.
func TestThrottledIsReported(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	f.srv.RateLimitNext(1, 3*time.Second)
	_, err := f.sender.Send(ctx, message("hello"))
	e := classified(t, err)
	if !e.Throttled || e.RetryAfter != 3*time.Second || e.Kind != notify.Transient {
		t.Fatalf("429/20429: %+v, want transient, throttled, retry after 3s", e)
	}

	f.srv.ThrottleFrom(clinicA, 0)
	_, err = f.sender.Send(ctx, message("hello"))
	if e := classified(t, err); !e.Throttled || e.RetryAfter != 0 {
		t.Fatalf("sender throttled without Retry-After: %+v", e)
	}
	f.srv.ClearThrottleFrom(clinicA)

	f.srv.FailNext(1, http.StatusServiceUnavailable, 20503, "")
	_, err = f.sender.Send(ctx, message("hello"))
	if e := classified(t, err); e.Throttled {
		t.Fatalf("503 reported as throttled: %+v", e)
	}
	if _, err := f.sender.Send(ctx, message("hello")); err != nil {
		t.Fatalf("after the throttle: %v", err)
	}
}

// TestDefaultTransportKeepsAHundredConnections: without an HTTPClient the
// sender pools as many connections as Twilio's default account
// concurrency, not http.DefaultTransport's two.
func TestDefaultTransportKeepsAHundredConnections(t *testing.T) {
	t.Parallel()
	tr := twilio.NewTransport(0)
	if tr.MaxIdleConnsPerHost != twilio.DefaultMaxConns || twilio.DefaultMaxConns != 100 {
		t.Fatalf("MaxIdleConnsPerHost = %d, want 100", tr.MaxIdleConnsPerHost)
	}
	if tr.MaxIdleConns < 100 {
		t.Fatalf("MaxIdleConns = %d, below the per-host pool", tr.MaxIdleConns)
	}
}
