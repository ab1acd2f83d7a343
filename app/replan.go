package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// ReplanOptions choose the enrollments `aftercare replan` re-plans.
type ReplanOptions struct {
	ClinicID int64
	// Treatment limits it to one treatment ("" for all).
	Treatment string
	// Apply applies the re-plans; without it they are a dry run.
	Apply bool
}

// RunReplan re-plans every active enrollment of a clinic (of one treatment,
// if given) with the clinic's current protocols, as the operator at the
// command line: a dry run printing each difference unless o.Apply.
func RunReplan(ctx context.Context, w io.Writer, cfg *config.Config, o ReplanOptions) error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lib, err := LoadLibrary(cfg, log)
	if err != nil {
		return fmt.Errorf("load protocols: %w", err)
	}
	fallback, ok := lib.Latest("microneedling", "en")
	if !ok {
		return errors.New("load protocols: no English microneedling protocol")
	}
	quiet, err := protocol.ParseQuietHours(cfg.QuietHours.Start, cfg.QuietHours.End)
	if err != nil {
		return fmt.Errorf("quiet hours: %w", err)
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	svc := &enroll.Service{Store: s, Protocols: &protocols{base: lib, store: s, fallback: fallback, log: log},
		Clock: aftercare.SystemClock, Quiet: quiet}
	return replanClinic(CLIContext(ctx), w, s, svc, o)
}

// Replan is RunReplan on the running daemon's store and protocols.
func (a *App) Replan(ctx context.Context, w io.Writer, o ReplanOptions) error {
	return replanClinic(ctx, w, a.Store, a.Enroll, o)
}

func replanClinic(ctx context.Context, w io.Writer, s *store.Store, svc *enroll.Service, o ReplanOptions) error {
	clinic, err := s.Clinic(ctx, o.ClinicID)
	if err != nil {
		return err
	}
	treatment := protocol.NormalizeTreatment(o.Treatment)
	list, err := s.ActiveEnrollments(ctx, clinic.ID, treatment)
	if err != nil {
		return err
	}
	failed, changed := 0, 0
	for _, e := range list {
		d, err := svc.Replan(ctx, clinic, e.ID, !o.Apply)
		if err != nil {
			failed++
			fmt.Fprintf(w, "enrollment %d (%s): not re-planned: %s\n", e.ID, e.Treatment, aftercare.ErrorMessage(err))
			continue
		}
		if !d.Empty() {
			changed++
		}
		writeReplanDiff(w, d, clinic.Timezone)
	}
	verb := "would change"
	if o.Apply {
		verb = "changed"
	}
	fmt.Fprintf(w, "%d active enrollment(s): %d %s", len(list), changed, verb)
	if !o.Apply {
		fmt.Fprint(w, " (dry run: nothing written; add --apply to re-plan)")
	}
	fmt.Fprintln(w)
	if failed > 0 {
		return fmt.Errorf("re-plan: %d enrollment(s) could not be re-planned", failed)
	}
	return nil
}

// writeReplanDiff prints one enrollment's difference: a summary line, then
// each message added, changed or cancelled (step, channel, occurrence and
// times in the clinic's zone; no texts, which the API shows).
func writeReplanDiff(w io.Writer, d store.ReplanDiff, zone string) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	at := func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 15:04") }
	fmt.Fprintf(w, "enrollment %d (patient %d, %s): %s -> %s: %d added, %d changed, %d cancelled, %d unchanged, %d left alone\n",
		d.EnrollmentID, d.PatientID, d.Treatment, d.From, d.To, len(d.Added), len(d.Changed), len(d.Removed), d.Unchanged, d.Kept)
	for _, m := range d.Added {
		fmt.Fprintf(w, "  + %s/%s/%d at %s\n", m.Step, m.Channel, m.Occurrence, at(m.SendAt))
	}
	for _, c := range d.Changed {
		what := "text"
		switch {
		case !c.OldSendAt.Equal(c.NewSendAt) && c.OldBody == c.NewBody && c.OldSubject == c.NewSubject:
			what = "time"
		case !c.OldSendAt.Equal(c.NewSendAt):
			what = "text and time"
		}
		fmt.Fprintf(w, "  ~ %s/%s/%d %s: %s -> %s\n", c.Step, c.Channel, c.Occurrence, what, at(c.OldSendAt), at(c.NewSendAt))
	}
	for _, m := range d.Removed {
		fmt.Fprintf(w, "  - %s/%s/%d at %s: %s\n", m.Step, m.Channel, m.Occurrence, at(m.SendAt), m.Reason)
	}
}
