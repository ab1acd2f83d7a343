package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/store"
)

// BookingSecret makes (or, with rotate, replaces) a clinic's booking
// webhook secret as the CLI actor and prints it once, with the webhook's
// URL and, after a rotation, until when the previous secret verifies.
// The secret goes to w only: never to a log.
func BookingSecret(ctx context.Context, w io.Writer, cfg *config.Config, clinicID int64, rotate bool) error {
	type made struct {
		secret string
		info   store.BookingSecretInfo
	}
	m, err := withStore(ctx, cfg, func(s *store.Store) (made, error) {
		secret, err := s.SetBookingSecret(CLIContext(ctx), clinicID, rotate)
		if err != nil {
			return made{}, err
		}
		info, err := s.BookingSecretInfo(ctx, clinicID)
		return made{secret, info}, err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "booking webhook of clinic %d: POST %s/v1/webhooks/booking/%d\n", clinicID, publicBase(cfg), clinicID)
	if !m.info.PreviousUntil.IsZero() {
		fmt.Fprintf(w, "the previous secret keeps working until %s\n", m.info.PreviousUntil.Format(time.RFC3339))
	}
	fmt.Fprintln(w, "signing secret (shown once; give it to the booking system):")
	fmt.Fprintln(w, m.secret)
	return nil
}

// publicBase is the daemon's public URL, or where it listens.
func publicBase(cfg *config.Config) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	return "http://" + cfg.Listen
}
