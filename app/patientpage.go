package app

import (
	"github.com/aftercare/aftercare/web"
)

// mountPatientPage serves the patients' aftercare pages (/c/{token}) on
// the API's mux, with a body limit that lets a concern's photo through.
// Link tokens are hashed with the daemon's secret (the unsubscribe key).
func (a *App) mountPatientPage() error {
	p, err := web.NewPatientPage(web.PatientPageOptions{
		Store: a.Store, Protocols: a.protocols, Concerns: a.Inbound, Key: a.secret, Clock: a.clock, Log: a.log,
	})
	if err != nil {
		return err
	}
	a.API.BodyLimit("/c/", web.MaxConcernBody)
	p.Register(a.API)
	return nil
}
