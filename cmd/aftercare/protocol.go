package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/protocol"
)

const protocolUsage = `usage: aftercare protocol lint [--json] [--daily-cap N] [--quiet 21:00-08:00] [--allow-treatment-name] [--embedded] FILE...`

// protocolCmd runs `aftercare protocol lint`. Flags may come before or
// after the files.
func protocolCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "lint" {
		fmt.Fprintln(stderr, protocolUsage)
		return usageError{errors.New(`protocol: the command is "protocol lint"`)}
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
