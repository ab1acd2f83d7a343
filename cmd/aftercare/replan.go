package main

import (
	"context"
	"errors"
	"io"

	"github.com/aftercare/aftercare/app"
)

// replanCmd parses `aftercare replan --clinic N [--treatment T] [--apply]`.
func replanCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("replan", stderr)
	var o app.ReplanOptions
	fs.Int64Var(&o.ClinicID, "clinic", 0, "the clinic whose active enrollments are re-planned (required)")
	fs.StringVar(&o.Treatment, "treatment", "", "only enrollments of this treatment")
	fs.BoolVar(&o.Apply, "apply", false, "apply the re-plans (default: a dry run that prints the differences)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.ClinicID <= 0 {
		return usageError{errors.New("replan: --clinic N is required")}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	return app.RunReplan(ctx, stdout, cfg, o)
}
