package app

import (
	"strings"

	"github.com/aftercare/aftercare/metrics"
)

// mountMetrics builds the Prometheus metrics, installs them as the
// dispatcher's observer and the receipt counter, and serves GET /metrics.
func (a *App) mountMetrics() error {
	a.Metrics = metrics.New(metrics.Options{Outbox: a.Store, LastDispatch: a.Dispatcher.LastRun, Log: a.log})
	a.Dispatcher.SetObserver(a.Metrics)
	if a.Inbound != nil {
		a.Inbound.Observe = a.Metrics.Receipt
		a.Inbound.Undeliverable = a.Metrics.AlertUndeliverable
	}
	a.API.Handle("GET /metrics", a.Metrics.Handler())
	return nil
}

// webhookRejected counts a refused webhook, with the API's reason folded
// into a short fixed label (a rejected request's own text never becomes a
// label value).
func (a *App) webhookRejected(endpoint, reason string) {
	if a.Metrics == nil {
		return
	}
	a.Metrics.WebhookRejected(endpoint, rejectionLabel(reason))
}

// rejectionLabel maps api's rejection reasons to metric label values.
func rejectionLabel(reason string) string {
	switch {
	case strings.Contains(reason, "not configured"):
		return "not_configured"
	case reason == "not a form":
		return "not_a_form"
	case reason == "unreadable form":
		return "unreadable_form"
	case reason == "unsigned":
		return "unsigned"
	case reason == "repeated form fields":
		return "repeated_fields"
	case reason == "bad signature":
		return "bad_signature"
	}
	return "invalid"
}
