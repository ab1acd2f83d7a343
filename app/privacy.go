package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/scheduler"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/web"
)

// Privacy housekeeping and the operator's privacy commands (issue 12).

// PurgeExpired runs the retention purge once: message bodies and reply
// texts privacy.body_retention_days after an enrollment ended, audit rows
// older than privacy.audit_retention days.
func (a *App) PurgeExpired(ctx context.Context) error {
	now := a.clock.Now()
	var errs []error
	if d := a.Config.Privacy.BodyRetentionDays; d > 0 {
		e, r, err := a.Store.PurgeBodies(ctx, now.AddDate(0, 0, -d))
		if err != nil {
			errs = append(errs, err)
		} else if e > 0 || r > 0 {
			a.log.Info("purged message bodies past retention", "enrollments", e, "replies", r)
		}
	}
	if d := a.Config.Privacy.AuditRetention; d > 0 {
		n, err := a.Store.PurgeAudit(ctx, now.AddDate(0, 0, -d))
		if err != nil {
			errs = append(errs, err)
		} else if n > 0 {
			a.log.Info("purged audit rows past retention", "rows", n)
		}
	}
	return errors.Join(errs...)
}

// privacyJob runs PurgeExpired hourly.
func (a *App) privacyJob() scheduler.Job {
	return scheduler.Job{Name: "retention", Spec: "@every 1h", Run: a.PurgeExpired}
}

// CLIActor is the operator at the command line, for the audit trail.
func CLIActor() aftercare.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return aftercare.Actor{Kind: aftercare.ActorCLI, Label: name}
}

// AuditOptions select the audit rows `aftercare audit` prints.
type AuditOptions struct {
	ClinicID  int64
	PatientID int64
	Action    string
	Since     string // RFC 3339 or 2006-01-02
	Limit     int
	CSV       bool
}

// RunAudit prints the audit trail, newest first, as a table or CSV.
func RunAudit(ctx context.Context, w io.Writer, cfg *config.Config, o AuditOptions) error {
	f := store.AuditFilter{ClinicID: o.ClinicID, PatientID: o.PatientID, Action: aftercare.AuditAction(o.Action), Limit: o.Limit}
	if o.Since != "" {
		t, err := time.Parse(time.RFC3339, o.Since)
		if err != nil {
			if t, err = time.Parse("2006-01-02", o.Since); err != nil {
				return aftercare.FieldError("since", "must be an RFC 3339 time or a date (2006-01-02)")
			}
		}
		f.Since = t
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	rows, err := s.AuditLog(ctx, f)
	if err != nil {
		return err
	}
	return WriteAudit(w, rows, o.CSV)
}

// WriteAudit writes audit rows as CSV (csv true) or aligned text.
func WriteAudit(w io.Writer, rows []aftercare.AuditEntry, asCSV bool) error {
	if asCSV {
		return web.WriteAuditCSV(w, rows)
	}
	for _, e := range rows {
		who := string(e.Actor.Kind)
		if e.Actor.ID != 0 {
			who += " " + strconv.FormatInt(e.Actor.ID, 10)
		}
		if e.Actor.Label != "" {
			who += " (" + e.Actor.Label + ")"
		}
		if e.Actor.IP != "" {
			who += " from " + e.Actor.IP
		}
		fmt.Fprintf(w, "%d\t%s\tclinic %s\t%s\t%s\tpatient %s\tenrollment %s\t%s\n", e.ID, e.At.UTC().Format(time.RFC3339),
			id0(e.ClinicID), who, e.Action, id0(e.PatientID), id0(e.EnrollmentID), e.Detail)
	}
	return nil
}

func id0(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// ExportPatient writes a patient's export (JSON, indented) to w, as the
// operator at the command line; clinicID 0 looks the patient's clinic up.
// The document is the one the API answers an export with
// (api.PatientExport).
func ExportPatient(ctx context.Context, w io.Writer, cfg *config.Config, clinicID, patientID int64) error {
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	if clinicID == 0 {
		if clinicID, err = s.PatientClinicID(ctx, patientID); err != nil {
			return err
		}
	}
	x, err := s.ExportPatient(aftercare.WithActor(ctx, CLIActor()), clinicID, patientID)
	if err != nil {
		return err
	}
	answers, err := s.CheckinAnswers(ctx, clinicID, patientID)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(api.NewPatientExport(x).WithCheckinAnswers(answers))
}

// ErasePatient erases a patient, as the operator at the command line;
// clinicID 0 looks the patient's clinic up.
func ErasePatient(ctx context.Context, cfg *config.Config, clinicID, patientID int64) (store.Erasure, error) {
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return store.Erasure{}, err
	}
	defer s.Close()
	if clinicID == 0 {
		if clinicID, err = s.PatientClinicID(ctx, patientID); err != nil {
			return store.Erasure{}, err
		}
	}
	return s.ErasePatient(aftercare.WithActor(ctx, CLIActor()), clinicID, patientID)
}
