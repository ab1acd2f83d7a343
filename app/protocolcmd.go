package app

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/aftercare/aftercare/protocol"
)

// ProtocolLintOptions are what `aftercare protocol lint` checks and how it
// prints.
type ProtocolLintOptions struct {
	// Files are protocol files to lint.
	Files []string
	// Embedded lints the protocols the daemon ships too.
	Embedded bool
	// JSON prints one JSON array of findings instead of one a line.
	JSON bool
	// Lint tunes the checks to a clinic (quiet hours, daily cap).
	Lint protocol.LintOptions
}

// LintProtocols lints protocol files and prints every finding to stdout,
// one a line (`peel.yaml:42: step "day1": sms: ...`) or, with JSON, as an
// array of objects (file, line, step, field, severity, message). A file
// that cannot be read is an error finding. A summary goes to stderr. It
// returns an error when any finding is an error (warnings alone pass), so
// the command exits 1.
func LintProtocols(stdout, stderr io.Writer, o ProtocolLintOptions) error {
	var srcs []protocol.Source
	if o.Embedded {
		srcs = append(srcs, protocol.EmbeddedSources()...)
	}
	files := len(srcs) + len(o.Files)
	all := []protocol.Finding{}
	for _, f := range o.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			all = append(all, protocol.Finding{File: f, Severity: protocol.SeverityError, Message: fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		srcs = append(srcs, protocol.Source{Name: f, Data: data})
	}
	for _, src := range srcs {
		all = append(all, protocol.Lint(src.Name, src.Data, o.Lint)...)
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return fmt.Errorf("protocol lint: %w", err)
		}
	} else {
		for _, f := range all {
			if _, err := fmt.Fprintln(stdout, f); err != nil {
				return fmt.Errorf("protocol lint: %w", err)
			}
		}
	}
	errs, warnings := 0, 0
	for _, f := range all {
		if f.Severity == protocol.SeverityError {
			errs++
		} else {
			warnings++
		}
	}
	summary := fmt.Sprintf("%s: %s, %s", plural(files, "protocol"), plural(errs, "error"), plural(warnings, "warning"))
	if errs > 0 {
		return fmt.Errorf("protocol lint: %s", summary)
	}
	fmt.Fprintf(stderr, "protocol lint: %s\n", summary)
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
