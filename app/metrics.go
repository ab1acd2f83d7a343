package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/metrics"
	"github.com/aftercare/aftercare/store"
)

// mountMetrics builds the Prometheus metrics, installs them as the
// dispatcher's observer and the receipt counter, and serves GET /metrics.
func (a *App) mountMetrics() error {
	a.Metrics = metrics.New(metrics.Options{Outbox: a.Store, OptOuts: a.Store, LastDispatch: a.Dispatcher.LastRun, Log: a.log})
	a.Dispatcher.SetObserver(a.Metrics)
	if a.Inbound != nil {
		a.Inbound.Observe = a.Metrics.Receipt
		a.Inbound.Answered = a.Metrics.CheckInAnswered
		a.Inbound.Undeliverable = a.Metrics.AlertUndeliverable
	}
	if a.Config.Metrics.Listen == "" {
		a.API.Handle("GET /metrics", a.metricsHandler())
	}
	return nil
}

// metricsHandler serves the metrics, behind the configured bearer token if
// there is one.
func (a *App) metricsHandler() http.Handler {
	h := a.Metrics.Handler()
	token := a.Config.Metrics.Token
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aftercare metrics"`)
			http.Error(w, "metrics need the bearer token (metrics.token)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// startMetrics serves GET /metrics on its own address when metrics.listen
// is set (the main listener then has no /metrics).
func (a *App) startMetrics() error {
	if a.Config.Metrics.Listen == "" {
		return nil
	}
	if a.metricsLn == nil {
		ln, err := net.Listen("tcp", a.Config.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("listen for metrics on %s: %w", a.Config.Metrics.Listen, err)
		}
		a.metricsLn = ln
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metricsHandler())
	a.metricsHTTP = &http.Server{Handler: mux, MaxHeaderBytes: MaxHeaderBytes, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	ln := a.metricsLn
	go func() {
		if err := a.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.serveErr <- fmt.Errorf("metrics: %w", err)
		}
	}()
	return nil
}

// MetricsAddr is the address /metrics is served on when metrics.listen is
// set ("" otherwise).
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// MaxHeaderBytes bounds a request's header: 16 KiB (net/http's default is
// 1 MiB). Larger headers get 431.
const MaxHeaderBytes = 16 << 10

// securityHeaders adds Strict-Transport-Security to every answer when the
// public URL is https: browsers then refuse plain HTTP to this host for a
// year, so a sign-in or a patient page cannot be downgraded.
func (a *App) securityHeaders(h http.Handler) http.Handler {
	if !strings.HasPrefix(strings.ToLower(a.Config.PublicURL), "https://") {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		h.ServeHTTP(w, r)
	})
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

// countingEnroller is the enroll service that counts each enrollment it
// creates in the metrics, under its source (api, console).
type countingEnroller struct {
	*enroll.Service
	app    *App
	source string
}

// Enroll enrolls, and counts the enrollment if one was created.
func (e countingEnroller) Enroll(ctx context.Context, clinic aftercare.Clinic, req enroll.Request, idemKey string) (store.EnrollmentView, bool, error) {
	v, created, err := e.Service.Enroll(ctx, clinic, req, idemKey)
	if err == nil && created && e.app.Metrics != nil {
		e.app.Metrics.Enrolled(v.Enrollment.Treatment, e.source)
	}
	return v, created, err
}
