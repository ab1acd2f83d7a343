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
	// UnsubscribeLink verifies token and returns what its confirmation
	// page shows. It changes nothing: mail scanners open links.
	UnsubscribeLink(ctx context.Context, token string) (UnsubscribeLink, error)
	// Unsubscribe verifies token and opts its patient out of email,
	// returning the clinic's name for the confirmation page.
	Unsubscribe(ctx context.Context, token string) (clinicName string, err error)
}

// UnsubscribeLink is what the page of a valid unsubscribe link shows.
type UnsubscribeLink struct {
	Clinic string
	// Language is the patient's language ("en", "es"); the page falls
	// back to English for one it has no words for.
	Language string
	// Already is true when the patient is already unsubscribed.
	Already bool
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
		// The patient acts (an opt-out by STOP, a reply filed as a concern).
		ctx := aftercare.WithActor(r.Context(), aftercare.Actor{Kind: aftercare.ActorPatient, Label: "sms reply"})
		_, err := w.Inbound.HandleReply(ctx, inbound.Reply{ProviderID: sid, From: f["From"], To: f["To"], Body: f["Body"]})
		return err
	}))
	// GET and HEAD of a link only show a page with one button: mail
	// scanners and link previews open every link in an email. POST
	// unsubscribes: the button, or a mail client's RFC 8058 one-click
	// request (body List-Unsubscribe=One-Click).
	s.mux.HandleFunc("GET /unsubscribe/{token}", func(rw http.ResponseWriter, r *http.Request) {
		link, err := w.Unsubscriber.UnsubscribeLink(r.Context(), r.PathValue("token"))
		page := unsubscribeData{Lang: link.Language, Clinic: link.Clinic, Already: link.Already, Confirm: !link.Already}
		s.unsubscribePage(rw, r, page, err)
	})
	s.mux.HandleFunc("POST /unsubscribe/{token}", func(rw http.ResponseWriter, r *http.Request) {
		if !oneClick(r) {
			s.unsubscribePage(rw, r, unsubscribeData{}, &httpError{status: http.StatusBadRequest, code: "bad_form",
				msg: "this request did not come from the unsubscribe button"})
			return
		}
		tok := r.PathValue("token")
		link, err := w.Unsubscriber.UnsubscribeLink(r.Context(), tok)
		if err == nil {
			ctx := aftercare.WithActor(r.Context(), aftercare.Actor{Kind: aftercare.ActorPatient, Label: "unsubscribe link", IP: remoteIP(r)})
			link.Clinic, err = w.Unsubscriber.Unsubscribe(ctx, tok)
		}
		s.unsubscribePage(rw, r, unsubscribeData{Lang: link.Language, Clinic: link.Clinic, Done: true}, err)
	})
}

// oneClick reports whether a POST carries List-Unsubscribe=One-Click, as
// the confirmation button and RFC 8058 clients send it (urlencoded or
// multipart).
func oneClick(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		if r.ParseForm() != nil {
			return false
		}
	case "multipart/form-data":
		if r.ParseMultipartForm(MaxBodyBytes) != nil {
			return false
		}
	default:
		return false
	}
	return r.PostForm.Get("List-Unsubscribe") == "One-Click"
}

// unsubscribeData is what the unsubscribe page shows.
type unsubscribeData struct {
	Lang, Clinic, Error string
	Confirm             bool // show the button
	Already, Done       bool
	T                   unsubscribeText
}

// unsubscribeText is the unsubscribe page's words in one language.
type unsubscribeText struct {
	ConfirmTitle, ConfirmLead, Button, DoneTitle, Done, AlreadyTitle, Texts, InvalidTitle, Invalid string
}

// unsubscribeWords are the page's words by language; add a language here.
// Patients see the words of their language, or English.
var unsubscribeWords = map[string]unsubscribeText{
	"en": {
		ConfirmTitle: "Stop aftercare emails?",
		ConfirmLead:  "Press the button to stop receiving aftercare emails from",
		Button:       "Unsubscribe",
		DoneTitle:    "You are unsubscribed",
		Done:         "You will no longer receive aftercare emails from",
		AlreadyTitle: "You are already unsubscribed",
		Texts:        "Texts, if you agreed to them, are not affected: reply STOP to any text to end those too. If anything about your skin worries you, call your clinic.",
		InvalidTitle: "This link is not valid",
		Invalid:      "If you keep receiving emails you do not want, reply to one of them or call your clinic.",
	},
	"es": {
		ConfirmTitle: "¿Dejar de recibir correos de cuidados?",
		ConfirmLead:  "Presiona el botón para dejar de recibir los correos de cuidados de",
		Button:       "Darme de baja",
		DoneTitle:    "Te diste de baja",
		Done:         "Ya no recibirás correos de cuidados de",
		AlreadyTitle: "Ya te habías dado de baja",
		Texts:        "Los mensajes de texto, si los aceptaste, siguen igual: responde STOP a cualquiera de ellos para dejar de recibirlos también. Si algo de tu piel te preocupa, llama a tu clínica.",
		InvalidTitle: "Este enlace no es válido",
		Invalid:      "Si sigues recibiendo correos que no quieres, responde a uno de ellos o llama a tu clínica.",
	},
}

func (s *Server) unsubscribePage(rw http.ResponseWriter, r *http.Request, d unsubscribeData, err error) {
	t, ok := unsubscribeWords[d.Lang]
	if !ok {
		d.Lang, t = "en", unsubscribeWords["en"]
	}
	d.T = t
	status := http.StatusOK
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			status, d.Error = he.status, he.msg
		} else {
			status = HTTPStatus(aftercare.ErrorCode(err))
			d.Error = aftercare.ErrorMessage(err)
		}
		if status >= 500 {
			s.log.ErrorContext(r.Context(), "unsubscribe failed", "method", r.Method, "err", err)
		}
		d.Confirm, d.Done, d.Already = false, false, false
	}
	h := rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	rw.WriteHeader(status)
	_ = unsubscribePage.Execute(rw, d)
}

var unsubscribePage = template.Must(template.New("unsub").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{if .Error}}{{.T.InvalidTitle}}{{else if .Confirm}}{{.T.ConfirmTitle}}{{else if .Already}}{{.T.AlreadyTitle}}{{else}}{{.T.DoneTitle}}{{end}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}
button{font:inherit;font-size:1.1rem;padding:.6rem 1.4rem;border-radius:.4rem;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer}</style></head>
<body>{{if .Error}}<h1>{{.T.InvalidTitle}}</h1><p>{{.Error}}. {{.T.Invalid}}</p>
{{else if .Confirm}}<h1>{{.T.ConfirmTitle}}</h1><p>{{.T.ConfirmLead}} {{.Clinic}}.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit" id="unsubscribe">{{.T.Button}}</button></form>
<p>{{.T.Texts}}</p>
{{else}}<h1>{{if .Already}}{{.T.AlreadyTitle}}{{else}}{{.T.DoneTitle}}{{end}}</h1><p>{{.T.Done}} {{.Clinic}}.</p>
<p>{{.T.Texts}}</p>{{end}}
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
