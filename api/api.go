// Package api serves aftercare over HTTP: the JSON API clinics integrate
// with, provider webhooks, and health endpoints. It maps domain error codes
// to HTTP statuses; nothing else in aftercare knows about HTTP.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/logmask"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// Store is what the API reads and writes.
type Store interface {
	// AuthenticateAPIKey authenticates a key: its clinic, the key's id and
	// label (and records its last use).
	AuthenticateAPIKey(ctx context.Context, key string) (aftercare.Clinic, int64, string, error)
	Enrollment(ctx context.Context, clinicID, id int64) (store.EnrollmentView, error)
	CancelEnrollment(ctx context.Context, clinicID, id int64, reason string) (int, error)
	Messages(ctx context.Context, f store.MessageFilter) ([]aftercare.Message, error)

	RecordAudit(ctx context.Context, e aftercare.AuditEntry) error
	AuditLog(ctx context.Context, f store.AuditFilter) ([]aftercare.AuditEntry, error)
	ExportPatient(ctx context.Context, clinicID, patientID int64) (store.PatientExport, error)
	CheckinAnswers(ctx context.Context, clinicID, patientID int64) ([]aftercare.CheckinAnswer, error)
	ErasePatient(ctx context.Context, clinicID, patientID int64) (store.Erasure, error)

	Clinic(ctx context.Context, id int64) (aftercare.Clinic, error)
	// UpdateClinic writes a clinic's settings whole and audits the names
	// of the fields that changed.
	UpdateClinic(ctx context.Context, c aftercare.Clinic) error
}

// Enroller validates, plans and stores enrollments.
type Enroller interface {
	Enroll(ctx context.Context, clinic aftercare.Clinic, req enroll.Request, idemKey string) (store.EnrollmentView, bool, error)
	Preview(ctx context.Context, clinic aftercare.Clinic, req enroll.Request) ([]aftercare.Message, protocol.Summary, error)
	Replan(ctx context.Context, clinic aftercare.Clinic, enrollmentID int64, dryRun bool) (store.ReplanDiff, error)
}

// Check is a named readiness check. An error from Run makes the daemon
// unready, except a Warning, which is reported under "warnings" while the
// check still counts as ok.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Warning is what a readiness check returns for something an operator
// should know that does not stop the daemon from serving (e.g. texts going
// to the console notifier).
type Warning string

func (w Warning) Error() string { return string(w) }

// Server is the HTTP front of aftercare.
type Server struct {
	store    Store
	enroller Enroller
	log      *slog.Logger
	checks   []Check
	mux      *http.ServeMux
	// treatments lists the treatments a clinic may offer.
	treatments func(ctx context.Context, clinicID int64) ([]string, error)
	// stats reads outcome statistics (GET /v1/stats); nil: not served.
	stats StatsReader
	// writes admits requests that write to the store in arrival order (see
	// admit).
	writes chan struct{}
	// bodyLimits are larger body limits for paths under a prefix (the
	// patient page's photo upload); set before serving.
	bodyLimits map[string]int64
}

// BodyLimit lets requests whose path starts with prefix carry a body of up
// to n bytes instead of MaxBodyBytes (the handler bounds it again). Call it
// before serving.
func (s *Server) BodyLimit(prefix string, n int64) {
	if s.bodyLimits == nil {
		s.bodyLimits = map[string]int64{}
	}
	s.bodyLimits[prefix] = n
}

// bodyLimit is the body limit of a request path.
func (s *Server) bodyLimit(path string) int64 {
	for p, n := range s.bodyLimits {
		if strings.HasPrefix(path, p) {
			return n
		}
	}
	return MaxBodyBytes
}

// Deps are the Server's collaborators.
type Deps struct {
	Store    Store
	Enroller Enroller
	Log      *slog.Logger
	// Ready are the readiness checks behind /readyz.
	Ready []Check
	// MaxConcurrentWrites bounds the requests writing to the store at
	// once; the rest wait in arrival order. Default 64: more than the
	// store's enrollment group commit takes at once, so a full group can
	// form while the next one queues.
	MaxConcurrentWrites int
	// Treatments lists the treatments a clinic may offer: those the
	// daemon's protocols and the clinic's own have. PATCH /v1/clinic
	// refuses any other. Nil means the embedded protocols' treatments.
	Treatments func(ctx context.Context, clinicID int64) ([]string, error)
	// Stats reads a clinic's outcome statistics for GET /v1/stats; nil
	// leaves the route out.
	Stats StatsReader
}

// New builds the server with the JSON API and health routes.
func New(d Deps) *Server {
	if d.MaxConcurrentWrites <= 0 {
		d.MaxConcurrentWrites = 64
	}
	if d.Treatments == nil {
		d.Treatments = embeddedTreatments
	}
	s := &Server{store: d.Store, enroller: d.Enroller, log: d.Log, checks: d.Ready, mux: http.NewServeMux(),
		treatments: d.Treatments, stats: d.Stats, writes: make(chan struct{}, d.MaxConcurrentWrites)}
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("POST /v1/enrollments", s.auth(s.createEnrollment))
	s.mux.Handle("POST /v1/enrollments/preview", s.auth(s.previewEnrollment))
	s.mux.Handle("GET /v1/enrollments/{id}", s.auth(s.getEnrollment))
	s.mux.Handle("POST /v1/enrollments/{id}/cancel", s.auth(s.cancelEnrollment))
	s.mux.Handle("POST /v1/enrollments/{id}/replan", s.auth(s.replanEnrollment))
	s.mux.Handle("GET /v1/messages", s.auth(s.listMessages))
	s.mux.Handle("GET /v1/audit", s.auth(s.listAudit))
	s.mux.Handle("GET /v1/patients/{id}/export", s.auth(s.exportPatient))
	s.mux.Handle("DELETE /v1/patients/{id}", s.auth(s.erasePatient))
	s.mux.Handle("GET /v1/clinic", s.auth(s.getClinic))
	s.mux.Handle("PATCH /v1/clinic", s.auth(s.patchClinic))
	if s.stats != nil {
		s.mux.Handle("GET /v1/stats", s.auth(s.getStats))
	}
	return s
}

// Handle adds a route (webhooks, web console, metrics).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the server's handler with panic recovery and access logs.
func (s *Server) Handler() http.Handler {
	return s.recover(s.accessLog(http.HandlerFunc(s.route)))
}

// route serves a request from the mux, answering a path no route serves
// (404) or a method a path does not take (405, with Allow) in JSON like
// every other API answer. The console's pages (/console/) keep the mux's
// plain answers.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" || strings.HasPrefix(r.URL.Path, "/console/") {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No pattern: the mux's own 404 or 405 handler. Run it on a recorder
	// to learn which, and the methods the path takes.
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.fail(w, r, &httpError{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			msg: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.header.Get("Allow"))})
		return
	}
	s.fail(w, r, &httpError{status: http.StatusNotFound, code: "not_found", msg: "no such endpoint: " + r.Method + " " + r.URL.Path})
}

// headerRecorder keeps the status and headers a handler writes and drops
// its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

// errorBody is the JSON shape of every error. Error is the first problem
// (what clients read today); Errors lists every problem with the input at
// once, field by field, in the order of the request's fields.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Field   string `json:"field,omitempty"`
		Message string `json:"message"`
	} `json:"error"`
	Errors   []fieldProblem `json:"errors,omitempty"`
	Warnings []inputWarning `json:"warnings,omitempty"`
	// Existing points at the active enrollment a duplicate would repeat.
	Existing *existingEnrollment `json:"existing_enrollment,omitempty"`
}

// fieldProblem is one entry of errorBody.Errors.
type fieldProblem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// existingEnrollment is the pointer a 409 for a duplicate enrollment gives.
type existingEnrollment struct {
	ID        int64     `json:"id"`
	URL       string    `json:"url"`
	PatientID int64     `json:"patient_id"`
	TreatedAt time.Time `json:"treated_at"`
	CreatedAt time.Time `json:"created_at"`
}

// HTTPStatus maps a domain error code to an HTTP status.
func HTTPStatus(code string) int {
	switch code {
	case aftercare.EINVALID:
		return http.StatusUnprocessableEntity
	case aftercare.ENOTFOUND:
		return http.StatusNotFound
	case aftercare.ECONFLICT:
		return http.StatusConflict
	case aftercare.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case aftercare.EFORBIDDEN:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// writeError writes err as JSON with the status its code maps to. Internal
// errors are logged and shown only as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := aftercare.ErrorCode(err)
	status := HTTPStatus(code)
	var body errorBody
	body.Error.Code = code
	body.Error.Message = aftercare.ErrorMessage(err)
	var de *aftercare.Error
	if errors.As(err, &de) {
		body.Error.Field = de.Field
		body.Error.Message = de.Message
	}
	if all := aftercare.AllErrors(err); code == aftercare.EINVALID && len(all) > 0 {
		for _, e := range all {
			body.Errors = append(body.Errors, fieldProblem{Field: e.Field, Message: e.Message})
		}
	}
	var ws *warned
	if errors.As(err, &ws) {
		body.Warnings = mapSlice(ws.warnings, newInputWarning)
	}
	var dup *store.DuplicateEnrollmentError
	if errors.As(err, &dup) {
		e := dup.Existing
		body.Error.Code = "duplicate_enrollment"
		body.Existing = &existingEnrollment{ID: e.ID, URL: "/v1/enrollments/" + strconv.FormatInt(e.ID, 10),
			PatientID: e.PatientID, TreatedAt: e.TreatedAt, CreatedAt: e.CreatedAt}
	}
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="aftercare"`)
	}
	writeJSON(w, status, body)
}

// writeJSON writes v as compact JSON (an enrollment answer is ~35 KB;
// indenting it cost a fifth of the request's CPU). Pipe through jq to read.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type clinicKey struct{}

// ClinicFrom returns the authenticated clinic of a request.
func ClinicFrom(ctx context.Context) (aftercare.Clinic, bool) {
	c, ok := ctx.Value(clinicKey{}).(aftercare.Clinic)
	return c, ok
}

// auth authenticates "Authorization: Bearer <api key>" and puts the clinic
// in the request context.
func (s *Server) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		key, ok := strings.CutPrefix(authz, "Bearer ")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			s.writeError(w, r, aftercare.Errorf(aftercare.EUNAUTHORIZED, "missing API key: send Authorization: Bearer <key>"))
			return
		}
		if len(key) > 200 {
			s.writeError(w, r, aftercare.Errorf(aftercare.EUNAUTHORIZED, "invalid or revoked API key"))
			return
		}
		c, keyID, label, err := s.store.AuthenticateAPIKey(r.Context(), key)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), clinicKey{}, c)
		// Who acts, for the audit trail the store writes.
		ctx = aftercare.WithActor(ctx, aftercare.Actor{Kind: aftercare.ActorAPIKey, ID: keyID, Label: label, IP: remoteIP(r)})
		h(w, r.WithContext(ctx))
	})
}

// decodeJSON reads a size-limited JSON object into v, refusing other
// content types, invalid UTF-8 (which encoding/json would silently turn
// into U+FFFD), unknown fields and trailing data.
func decodeJSON(r *http.Request, v any) error {
	body, err := readBody(r, "application/json")
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute) && ute.Field == "":
			return aftercare.Errorf(aftercare.EINVALID, "body must be a JSON object")
		case errors.As(err, &ute):
			return aftercare.FieldError(ute.Field, "must be a %s", ute.Type.String())
		case errors.As(err, &se):
			return &httpError{status: http.StatusBadRequest, code: "bad_json", msg: fmt.Sprintf("malformed JSON at byte %d", se.Offset)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return aftercare.FieldError(f, "unknown field")
		}
		return &httpError{status: http.StatusBadRequest, code: "bad_json", msg: "malformed JSON body"}
	}
	if dec.More() {
		return &httpError{status: http.StatusBadRequest, code: "bad_json", msg: "trailing data after the JSON object"}
	}
	return nil
}

// readBody reads a size-limited request body of one of the given media
// types that is valid UTF-8 (which encoding/json would silently turn
// into U+FFFD).
func readBody(r *http.Request, mediaTypes ...string) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(mediaTypes, mt) {
		return nil, &httpError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			msg: "Content-Type must be " + strings.Join(mediaTypes, " or ")}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large", msg: fmt.Sprintf("body exceeds %d bytes", MaxBodyBytes)}
		}
		return nil, &httpError{status: http.StatusBadRequest, code: "bad_body", msg: "could not read the request body"}
	}
	if !utf8.Valid(body) {
		return nil, &httpError{status: http.StatusBadRequest, code: "bad_json", msg: "body is not valid UTF-8"}
	}
	return body, nil
}

// admit waits for a turn to write to the store and returns the function
// that ends it. SQLite takes one writer at a time, and database/sql hands a
// freed connection to a random waiter: under a burst of 200 concurrent
// enrollments a few requests waited ten times longer than the median. A
// channel queues blocked senders first come, first served, so waiting here
// keeps the order fair under any burst, and bounds the enrollments planned
// and held in memory at once. The turn must end before the response is
// written, so a client that reads slowly never holds up the others.
func (s *Server) admit(ctx context.Context) (func(), error) {
	select {
	case s.writes <- struct{}{}:
		return func() { <-s.writes }, nil
	case <-ctx.Done():
		return nil, &httpError{status: http.StatusServiceUnavailable, code: "unavailable", msg: "request cancelled while waiting for the database"}
	}
}

// httpError is a protocol-level error (content type, size, syntax) that
// has no domain code.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// fail writes either kind of error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		var body errorBody
		body.Error.Code, body.Error.Message = he.code, he.msg
		writeJSON(w, he.status, body)
		return
	}
	s.writeError(w, r, err)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := http.StatusOK
	out := map[string]string{}
	warnings := map[string]string{}
	for _, c := range s.checks {
		err := c.Run(ctx)
		var warn Warning
		if errors.As(err, &warn) {
			warnings[c.Name] = warn.Error()
			err = nil
		}
		if err != nil {
			status = http.StatusServiceUnavailable
			out[c.Name] = err.Error()
			continue
		}
		out[c.Name] = "ok"
	}
	body := map[string]any{"ready": status == http.StatusOK, "checks": out}
	if len(warnings) > 0 {
		body["warnings"] = warnings
	}
	writeJSON(w, status, body)
}

// recover turns a panic into a 500 without crashing the daemon.
func (s *Server) recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The path may hold a patient page token (/c/<token>): masked.
				s.log.Error("panic serving request", "method", r.Method, "path", logmask.Path(r.URL.Path), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.writeError(w, r, errors.New("panic"))
			}
		}()
		r.Body = http.MaxBytesReader(w, r.Body, s.bodyLimit(r.URL.Path))
		h.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs method, route pattern, status and duration: never the
// query string or body, which can hold personal data.
func (s *Server) accessLog(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			return
		}
		level := slog.LevelDebug
		if sw.status >= 500 {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "http request", "method", r.Method, "route", r.Pattern, "status", sw.status,
			"duration_ms", time.Since(start).Milliseconds())
	})
}
