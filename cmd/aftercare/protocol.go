package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/protocol"
)

const protocolUsage = `usage: aftercare protocol lint [--json] [--daily-cap N] [--quiet 21:00-08:00] [--allow-treatment-name] [--embedded] FILE...
       aftercare protocol upload --clinic ID [--activate] FILE
       aftercare protocol use --clinic ID --treatment T --language L (--version V | --daemon)
       aftercare protocol list --clinic ID`

// protocolCmd runs `aftercare protocol lint|upload|use|list`. Flags may
// come before or after lint's files.
func protocolCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, protocolUsage)
		return usageError{errors.New(`protocol needs a subcommand: lint, upload, use or list`)}
	}
	switch args[0] {
	case "lint":
	case "upload", "use", "list":
		return protocolClinicCmd(ctx, args[0], args[1:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, protocolUsage)
		return usageError{fmt.Errorf("protocol: unknown subcommand %q: lint, upload, use or list", args[0])}
	}
	fs := flag.NewFlagSet("protocol lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, protocolUsage)
		fs.PrintDefaults()
	}
	var o app.ProtocolLintOptions
	fs.BoolVar(&o.JSON, "json", false, "print a JSON array of findings")
	fs.BoolVar(&o.Embedded, "embedded", false, "lint the protocols built into aftercare")
	fs.IntVar(&o.Lint.DailyCap, "daily-cap", 0, "the clinic's most texts a day (0: the default 2; -1: no check)")
	fs.BoolVar(&o.Lint.AllowTreatmentName, "allow-treatment-name", false, "the clinic lets texts name the treatment on a lock screen")
	quiet := fs.String("quiet", "", "the clinic's quiet hours, like 21:00-08:00 (default 21:00-08:00)")
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		o.Files = append(o.Files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(o.Files) == 0 && !o.Embedded {
		fmt.Fprintln(stderr, protocolUsage)
		return usageError{errors.New("protocol lint needs a FILE or --embedded")}
	}
	if *quiet != "" {
		start, end, _ := strings.Cut(*quiet, "-")
		q, err := protocol.ParseQuietHours(start, end)
		if err != nil {
			return usageError{fmt.Errorf("--quiet: %w", err)}
		}
		if q == (protocol.QuietHours{}) {
			q = protocol.QuietHours{Start: 1, End: 1} // 00:00-00:00: no quiet hours
		}
		o.Lint.Quiet = q
	}
	return app.LintProtocols(stdout, stderr, o)
}

// protocolClinicCmd runs `aftercare protocol upload|use|list` for a clinic.
func protocolClinicCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("protocol "+sub, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, protocolUsage)
		fs.PrintDefaults()
	}
	var o app.ProtocolCommand
	fs.Int64Var(&o.ClinicID, "clinic", 0, "the clinic's id")
	if sub == "upload" {
		fs.BoolVar(&o.Activate, "activate", false, "use it for the clinic's new enrollments at once")
	}
	daemon := false
	if sub == "use" {
		fs.StringVar(&o.Treatment, "treatment", "", "the treatment, like microneedling")
		fs.StringVar(&o.Language, "language", "", "the language: en or es")
		fs.IntVar(&o.Version, "version", 0, "the clinic's own version to use")
		fs.BoolVar(&daemon, "daemon", false, "use the daemon's protocol again")
	}
	rest := args
	var files []string
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	var problems []string
	if o.ClinicID <= 0 {
		problems = append(problems, "--clinic ID is required")
	}
	switch sub {
	case "upload":
		if len(files) != 1 {
			problems = append(problems, "give exactly one FILE")
		} else {
			o.File = files[0]
		}
	case "use":
		if o.Treatment == "" || o.Language == "" {
			problems = append(problems, "--treatment and --language are required")
		}
		if daemon == (o.Version != 0) {
			problems = append(problems, "give --version V or --daemon")
		}
		if o.Version < 0 {
			problems = append(problems, "--version must be 1 or more")
		}
	}
	if sub != "upload" && len(files) > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", files[0]))
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, protocolUsage)
		return usageError{fmt.Errorf("protocol %s: %s", sub, strings.Join(problems, "; "))}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	switch sub {
	case "upload":
		return app.UploadProtocolFile(ctx, cfg, stdout, o)
	case "use":
		return app.UseProtocol(ctx, cfg, stdout, o)
	}
	return app.ListProtocols(ctx, cfg, stdout, o.ClinicID)
}
