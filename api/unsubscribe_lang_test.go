package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aftercare/aftercare/api"
)

// langUnsubscriber answers every link with one clinic and language.
type langUnsubscriber struct{ lang string }

func (u langUnsubscriber) UnsubscribeLink(context.Context, string) (api.UnsubscribeLink, error) {
	return api.UnsubscribeLink{Clinic: "Glow & Co", Language: u.lang}, nil
}

func (u langUnsubscriber) Unsubscribe(context.Context, string) (string, error) {
	return "Glow & Co", nil
}

// The unsubscribe page speaks the patient's language, English by default
// and for a language it has no words for.
func TestUnsubscribePageLanguage(t *testing.T) {
	t.Parallel()
	confirm := map[string][]string{
		"en": {`<html lang="en">`, "<title>Stop aftercare emails?</title>", "stop receiving aftercare emails from Glow &amp; Co.", ">Unsubscribe</button>", "reply STOP"},
		"es": {`<html lang="es">`, "<title>¿Dejar de recibir correos de cuidados?</title>", "dejar de recibir los correos de cuidados de Glow &amp; Co.", ">Darme de baja</button>", "responde STOP", "llama a tu clínica"},
	}
	done := map[string][]string{
		"en": {`<html lang="en">`, "<h1>You are unsubscribed</h1>", "You will no longer receive aftercare emails from Glow &amp; Co."},
		"es": {`<html lang="es">`, "<h1>Te diste de baja</h1>", "Ya no recibirás correos de cuidados de Glow &amp; Co."},
	}
	for _, tc := range []struct{ lang, want string }{{"en", "en"}, {"es", "es"}, {"", "en"}, {"fr", "en"}} {
		srv := api.New(api.Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		srv.EnableWebhooks(api.Webhooks{Unsubscriber: langUnsubscriber{tc.lang}})
		h := srv.Handler()

		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/unsubscribe/tok", nil))
		checkUnsubscribePage(t, tc.lang+" confirm", rec, confirm[tc.want], confirm[otherLanguage(tc.want)][1:])

		req := httptest.NewRequest(http.MethodPost, "/unsubscribe/tok", strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkUnsubscribePage(t, tc.lang+" done", rec, done[tc.want], done[otherLanguage(tc.want)][1:])
	}
}

func otherLanguage(lang string) string {
	if lang == "es" {
		return "en"
	}
	return "es"
}

func checkUnsubscribePage(t *testing.T, name string, rec *httptest.ResponseRecorder, want, unwanted []string) {
	t.Helper()
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Errorf("%s: status %d", name, rec.Code)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s: page lacks %q:\n%s", name, w, body)
		}
	}
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("%s: page has the other language's %q", name, w)
		}
	}
}
