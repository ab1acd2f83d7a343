package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/aftercare/aftercare/app"
)

func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("audit", stderr)
	var o app.AuditOptions
	fs.Int64Var(&o.ClinicID, "clinic", 0, "only this clinic (default: every clinic)")
	fs.Int64Var(&o.PatientID, "patient", 0, "only rows about this patient")
	fs.StringVar(&o.Action, "action", "", "only this action, e.g. view_patient, export, erase")
	fs.StringVar(&o.Since, "since", "", "from this time: RFC 3339 or a date (2006-01-02)")
	fs.IntVar(&o.Limit, "limit", 500, "the newest N rows")
	fs.BoolVar(&o.CSV, "csv", false, "print CSV")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	return app.RunAudit(ctx, stdout, cfg, o)
}

func patientCmd(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return usageError{fmt.Errorf("patient %s: %q is not a patient id", verb, args[0])}
	}
	fs, cfgPath := newFlags("patient "+verb, stderr)
	clinic := fs.Int64("clinic", 0, "the patient's clinic (default: looked up)")
	yes := fs.Bool("yes", false, "erase: confirm that the patient's identity, messages and replies are to be removed for good")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if verb == "export" {
		return app.ExportPatient(ctx, stdout, cfg, *clinic, id)
	}
	if !*yes {
		return usageError{errors.New("patient erase removes the patient's identity, messages and replies for good: add --yes (export first if the patient asked for a copy)")}
	}
	out, err := app.ErasePatient(ctx, cfg, *clinic, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "patient %d erased: %d pending messages cancelled, %d messages and %d replies scrubbed, %d opt-outs kept as hashes\n",
		id, out.CancelledMessages, out.ScrubbedMessages, out.ScrubbedReplies, out.KeptOptOuts)
	if !out.CheckpointComplete {
		fmt.Fprintln(stdout, "note: the daemon's readers held back the WAL checkpoint; old pages leave the -wal file at its next checkpoint")
	}
	return nil
}
