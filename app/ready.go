package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
)

// providersReady reports whether every channel has a notifier. The console
// notifier counts as ready (a trial or a demo), but is reported as a
// warning, and so is a real provider whose webhooks cannot reach aftercare
// because no public URL is set.
func (a *App) providersReady(ctx context.Context) error {
	var missing, notes []string
	for _, ch := range []aftercare.Channel{aftercare.SMS, aftercare.Email} {
		s := a.Senders[ch]
		if s == nil {
			missing = append(missing, string(ch))
			continue
		}
		name := senderName(s)
		switch {
		case name == "console":
			notes = append(notes, fmt.Sprintf("%s goes to the console notifier (no provider configured)", ch))
		case name == "twilio" && a.Config.PublicURL == "":
			notes = append(notes, "sms uses Twilio but public_url is not set: delivery receipts and patient replies (STOP, HELP) cannot reach aftercare")
		case name == "smtp" && a.Config.PublicURL == "":
			notes = append(notes, "email uses SMTP but public_url is not set: emails go out without an unsubscribe link")
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return errors.New("no notifier for " + strings.Join(missing, ", "))
	}
	if len(notes) > 0 {
		return api.Warning(strings.Join(notes, "; "))
	}
	return nil
}

// clinicsReady names every clinic without an alert route and counts
// red-flag alerts no route could deliver; both are warnings: the daemon
// serves, but someone must act.
func (a *App) clinicsReady(ctx context.Context) error {
	clinics, err := a.Store.Clinics(ctx)
	if err != nil {
		return err
	}
	notes := NoAlertRoute(clinics)
	n, err := a.Store.UndeliverableAlerts(ctx, 0)
	if err != nil {
		return err
	}
	if n > 0 {
		notes = append(notes, fmt.Sprintf("%d red-flag alert(s) could not be delivered to clinic staff by any route: see the console inbox", n))
	}
	if len(notes) > 0 {
		return api.Warning(strings.Join(notes, "; "))
	}
	return nil
}
