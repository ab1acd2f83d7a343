package app

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/inbound"
	"github.com/aftercare/aftercare/notify/twilio"
	"github.com/aftercare/aftercare/scheduler"
)

// Reconcile settings: texts accepted by Twilio but without a final receipt
// after ReconcileAfter are looked up, for up to ReconcileWindow.
const (
	ReconcileAfter  = 30 * time.Minute
	ReconcileWindow = 72 * time.Hour
	reconcileBatch  = 200
)

// statusFetcher is what reconciling needs from the SMS provider.
type statusFetcher interface {
	Fetch(ctx context.Context, sid string) (twilio.Status, error)
}

// ReconcileOnce asks Twilio for the status of texts that were accepted but
// never got a final status callback (a lost webhook) and applies it like a
// receipt. It returns how many messages it looked up.
func (a *App) ReconcileOnce(ctx context.Context) (int, error) {
	f, ok := a.Senders[aftercare.SMS].(statusFetcher)
	if !ok {
		return 0, nil
	}
	now := a.clock.Now()
	msgs, err := a.Store.SentBefore(ctx, now.Add(-ReconcileAfter), aftercare.SMS, reconcileBatch)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	n := 0
	for _, m := range msgs {
		if ctx.Err() != nil {
			break
		}
		if m.SentAt.Before(now.Add(-ReconcileWindow)) || m.ProviderID == "" {
			continue
		}
		n++
		st, err := f.Fetch(ctx, m.ProviderID)
		if err != nil {
			a.log.Warn("reconcile: fetch status", "message_id", m.ID, "clinic_id", m.ClinicID, "err", err)
			continue
		}
		code := ""
		if st.ErrorCode != 0 {
			code = strconv.Itoa(st.ErrorCode)
		}
		if err := a.Inbound.HandleReceipt(ctx, inbound.Receipt{ProviderID: m.ProviderID, Status: st.Status, ErrorCode: code}); err != nil {
			return n, fmt.Errorf("reconcile message %d: %w", m.ID, err)
		}
	}
	return n, nil
}

// reconcileJob runs ReconcileOnce every five minutes.
func (a *App) reconcileJob() scheduler.Job {
	return scheduler.Job{Name: "reconcile", Spec: "@every 5m", Run: func(ctx context.Context) error {
		_, err := a.ReconcileOnce(ctx)
		return err
	}}
}
