package api

import (
	"context"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"strings"

	twclient "github.com/twilio/twilio-go/client"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/replies"
)

// Inbound acts on provider callbacks.
type Inbound interface {
	HandleReceipt(ctx context.Context, r inbound.Receipt) error
	HandleReply(ctx context.Context, r inbound.Reply) (replies.Kind, error)
}

// Unsubscriber opts a patient out of email from a signed link.
type Unsubscriber interface {
	// Unsubscribe verifies token and opts its patient out of email,
	// returning the clinic's name for the confirmation page.
	Unsubscribe(ctx context.Context, token string) (clinicName string, err error)
}

// Webhooks configures the provider endpoints.
type Webhooks struct {
	// TwilioAuthToken verifies X-Twilio-Signature; without it every Twilio
	// webhook is refused.
	TwilioAuthToken string
	// PublicURL is the base URL Twilio was told to call; signatures are
	// computed over it, not over what this server sees (proxies rewrite).
	PublicURL    string
	Inbound      Inbound
	Unsubscriber Unsubscriber
	// Rejected is told about each refused webhook (metrics); optional.
	Rejected func(endpoint, reason string)
}

// EnableWebhooks adds the Twilio webhooks and the unsubscribe endpoint.
func (s *Server) EnableWebhooks(w Webhooks) {
	if w.Rejected == nil {
		w.Rejected = func(string, string) {}
	}
	s.mux.Handle("POST /webhooks/twilio/status", s.twilio(w, "/webhooks/twilio/status", func(r *http.Request, f map[string]string) error {
		sid := f["MessageSid"]
		if sid == "" {
			sid = f["SmsSid"]
		}
		status := f["MessageStatus"]
		if status == "" {
			status = f["SmsStatus"]
		}
		if sid == "" || status == "" {
			return aftercare.FieldError("MessageSid", "MessageSid and MessageStatus are required")
		}
		return w.Inbound.HandleReceipt(r.Context(), inbound.Receipt{ProviderID: sid, Status: strings.ToLower(status), ErrorCode: f["ErrorCode"]})
	}))
	s.mux.Handle("POST /webhooks/twilio/inbound", s.twilio(w, "/webhooks/twilio/inbound", func(r *http.Request, f map[string]string) error {
		sid := f["MessageSid"]
		if sid == "" {
			sid = f["SmsSid"]
		}
		if sid == "" || f["From"] == "" {
			return aftercare.FieldError("MessageSid", "MessageSid and From are required")
		}
		_, err := w.Inbound.HandleReply(r.Context(), inbound.Reply{ProviderID: sid, From: f["From"], To: f["To"], Body: f["Body"]})
		return err
	}))
	unsub := func(rw http.ResponseWriter, r *http.Request) {
		name, err := w.Unsubscriber.Unsubscribe(r.Context(), r.PathValue("token"))
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-store")
		rw.Header().Set("Referrer-Policy", "no-referrer")
		data := map[string]string{"Clinic": name}
		status := http.StatusOK
		if err != nil {
			status = HTTPStatus(aftercare.ErrorCode(err))
			if status >= 500 {
				s.log.ErrorContext(r.Context(), "unsubscribe failed", "err", err)
			}
			data["Error"] = aftercare.ErrorMessage(err)
		}
		rw.WriteHeader(status)
		_ = unsubscribePage.Execute(rw, data)
	}
	s.mux.HandleFunc("GET /unsubscribe/{token}", unsub)
	s.mux.HandleFunc("POST /unsubscribe/{token}", unsub)
}

var unsubscribePage = template.Must(template.New("unsub").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if .Error}}Link not valid{{else}}Unsubscribed{{end}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}</style></head>
<body>{{if .Error}}<h1>This link is not valid</h1><p>{{.Error}}. If you keep receiving emails you do not want, reply to one of them or call your clinic.</p>
{{else}}<h1>You are unsubscribed</h1><p>You will no longer receive aftercare emails from {{.Clinic}}.</p>
<p>Texts, if you agreed to them, are not affected: reply STOP to any text to end those too. If anything about your skin worries you, call your clinic.</p>{{end}}
</body></html>
`))

// twilio verifies X-Twilio-Signature against the configured public URL and
// parses the form before calling h. A forged or unsigned request gets 403
// and changes nothing. Twilio expects a TwiML (XML) answer.
func (s *Server) twilio(w Webhooks, path string, h func(r *http.Request, form map[string]string) error) http.Handler {
	validator := twclient.NewRequestValidator(w.TwilioAuthToken)
	full := strings.TrimRight(w.PublicURL, "/") + path
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		reject := func(status int, reason string) {
			w.Rejected(path, reason)
			s.log.WarnContext(r.Context(), "webhook rejected", "endpoint", path, "reason", reason)
			http.Error(rw, http.StatusText(status), status)
		}
		if w.TwilioAuthToken == "" || w.PublicURL == "" {
			reject(http.StatusForbidden, "twilio auth token or public_url not configured")
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			reject(http.StatusUnsupportedMediaType, "not a form")
			return
		}
		if err := r.ParseForm(); err != nil {
			if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
				reject(http.StatusRequestEntityTooLarge, "form too large")
				return
			}
			reject(http.StatusBadRequest, "unreadable form")
			return
		}
		sig := r.Header.Get("X-Twilio-Signature")
		if sig == "" {
			reject(http.StatusForbidden, "unsigned")
			return
		}
		form, ok := single(r.PostForm)
		if !ok {
			reject(http.StatusForbidden, "repeated form fields")
			return
		}
		if len(r.URL.RawQuery) > 0 {
			// Twilio signs the URL it called, query included.
			full := full + "?" + r.URL.RawQuery
			if !validator.Validate(full, form, sig) {
				reject(http.StatusForbidden, "bad signature")
				return
			}
		} else if !validator.Validate(full, form, sig) {
			reject(http.StatusForbidden, "bad signature")
			return
		}
		if err := h(r, form); err != nil {
			if code := aftercare.ErrorCode(err); code == aftercare.EINVALID {
				reject(http.StatusBadRequest, err.Error())
				return
			}
			s.log.ErrorContext(r.Context(), "webhook failed", "endpoint", path, "err", err)
			// 5xx makes Twilio retry; processing is idempotent.
			http.Error(rw, "temporary failure", http.StatusServiceUnavailable)
			return
		}
		rw.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = rw.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
	})
}

// single flattens a form, refusing repeated keys.
func single(v url.Values) (map[string]string, bool) {
	out := make(map[string]string, len(v))
	for k, vs := range v {
		if len(vs) != 1 {
			return nil, false
		}
		out[k] = vs[0]
	}
	return out, true
}
