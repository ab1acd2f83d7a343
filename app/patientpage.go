package app

import (
	"crypto/hmac"
	"crypto/sha256"

	"github.com/aftercare/aftercare/web"
)

// linkKey is the key patient page tokens are hashed with: derived from
// the daemon's secret (the unsubscribe key) for this one use, so a hash
// of one kind can never stand for the other.
func (a *App) linkKey() []byte {
	if len(a.secret) == 0 {
		return nil
	}
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte("aftercare patient page links v1"))
	return m.Sum(nil)
}

// mountPatientPage serves the patients' aftercare pages (/c/{token}) on
// the API's mux, with a body limit that lets a concern's photo through.
// Link tokens are hashed with linkKey.
func (a *App) mountPatientPage() error {
	p, err := web.NewPatientPage(web.PatientPageOptions{
		Store: a.Store, Protocols: a.protocols, Concerns: a.Inbound, Key: a.linkKey(), Clock: a.clock, Log: a.log,
		Clicked: a.Metrics.BookingLinkClicked,
	})
	if err != nil {
		return err
	}
	a.API.BodyLimit("/c/", web.MaxConcernBody)
	p.Register(a.API)
	return nil
}
