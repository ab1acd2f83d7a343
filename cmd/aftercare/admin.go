package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/aftercare/aftercare/app"
)

const clinicUsage = `usage:
  aftercare clinic add --name NAME --phone PHONE --tz ZONE --alert-email EMAIL | --on-call-phone PHONE
      [--default-language en|es] [--quiet-hours 21:00-08:00] [--daily-text-cap N] [--weekly-text-cap N]
      [--treatments "microneedling,chemical peel"]
  aftercare clinic list
  aftercare clinic show ID
  aftercare clinic booking-secret --clinic ID [--rotate]
      (make the booking webhook's signing secret, or replace it: the old one works 24 more hours)
  aftercare clinic update ID [--name ...] [--phone ...] [--tz ...] [--booking-url ...] [--alert-email ...]
      [--on-call-phone ...] [--after-hours-phone ...] [--sms-from ...] [--messaging-service-sid ...]
      [--email-from ...] [--reply-to ...] [--default-language en|es] [--quiet-hours HH:MM-HH:MM]
      [--daily-text-cap N] [--weekly-text-cap N] [--treatments "microneedling,chemical peel"]
      (an empty value clears an optional setting or restores the default)`

const keyUsage = `usage:
  aftercare key add --clinic ID --label LABEL
  aftercare key list --clinic ID
  aftercare key revoke --clinic ID KEY_ID`

func clinicCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, clinicUsage)
		return usageError{errors.New("clinic needs a subcommand: add, list, show, update or booking-secret")}
	}
	switch args[0] {
	case "add":
		return clinicAdd(ctx, args[1:], stdout, stderr)
	case "list":
		fs, cfgPath := newFlags("clinic list", stderr)
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		return app.ListClinics(ctx, stdout, cfg)
	case "show":
		fs, cfgPath := newFlags("clinic show", stderr)
		id, rest, err := leadingID(args[1:], "clinic show ID")
		if err != nil {
			return err
		}
		if err := parse(fs, rest); err != nil {
			return err
		}
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		return app.ShowClinic(ctx, stdout, cfg, id)
	case "update":
		return clinicUpdate(ctx, args[1:], stdout, stderr)
	case "booking-secret":
		fs, cfgPath := newFlags("clinic booking-secret", stderr)
		clinic := fs.Int64("clinic", 0, "clinic id (required)")
		rotate := fs.Bool("rotate", false, "replace the clinic's secret; the previous one keeps working for 24 hours")
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		if *clinic <= 0 {
			return usageError{errors.New("clinic booking-secret needs --clinic ID")}
		}
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		return app.BookingSecret(ctx, stdout, cfg, *clinic, *rotate)
	}
	fmt.Fprintln(stderr, clinicUsage)
	return usageError{fmt.Errorf("unknown clinic subcommand %q", args[0])}
}

// leadingID takes the ID argument that comes first ("clinic show 3
// --config x.yaml"), or last after the flags.
func leadingID(args []string, what string) (int64, []string, error) {
	if len(args) > 0 {
		if id, err := strconv.ParseInt(args[0], 10, 64); err == nil && id > 0 {
			return id, args[1:], nil
		}
	}
	if n := len(args); n > 0 {
		if id, err := strconv.ParseInt(args[n-1], 10, 64); err == nil && id > 0 {
			return id, args[:n-1], nil
		}
	}
	return 0, nil, usageError{fmt.Errorf("%s: ID must be a clinic id (see aftercare clinic list)", what)}
}

func clinicUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	id, rest, err := leadingID(args, "clinic update ID")
	if err != nil {
		return err
	}
	fs, cfgPath := newFlags("clinic update", stderr)
	for _, f := range []struct{ name, usage string }{
		{"name", "clinic name"},
		{"phone", "clinic phone patients call, E.164"},
		{"tz", "clinic's IANA time zone"},
		{"booking-url", "where patients book their next session"},
		{"alert-email", "staff address for red-flag alerts"},
		{"on-call-phone", "staff mobile for red-flag alerts by SMS"},
		{"after-hours-phone", "number patients are told to call outside opening hours"},
		{"sms-from", "clinic's own Twilio number (empty: global twilio.from)"},
		{"messaging-service-sid", "clinic's Twilio Messaging Service"},
		{"email-from", "clinic's sender address (empty: global smtp.from)"},
		{"reply-to", "Reply-To address for emails"},
		{"default-language", "language of patients enrolled without one: en or es (empty: en)"},
		{"quiet-hours", "no texts in this local window, HH:MM-HH:MM (empty: the daemon's quiet_hours)"},
		{"daily-text-cap", "most scheduled texts a patient gets a day, 1-3 (empty: 2)"},
		{"weekly-text-cap", "most scheduled texts in 7 days, from the daily cap to 50 (empty: none)"},
		{"treatments", "treatments offered, comma-separated, each with a protocol (empty: every treatment)"},
	} {
		fs.String(f.name, "", f.usage)
	}
	if err := parse(fs, rest); err != nil {
		return err
	}
	changes := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "config" {
			changes[f.Name] = f.Value.String()
		}
	})
	if len(changes) == 0 {
		return usageError{errors.New("clinic update needs at least one setting to change, e.g. --booking-url URL")}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	c, changed, err := app.UpdateClinic(ctx, cfg, id, changes)
	if err != nil {
		return err
	}
	if len(changed) == 0 {
		fmt.Fprintf(stdout, "clinic %d %q: nothing changed\n", c.ID, c.Name)
		return nil
	}
	fmt.Fprintf(stdout, "clinic %d %q updated:", c.ID, c.Name)
	for _, f := range changed {
		fmt.Fprintf(stdout, " %s", f)
	}
	fmt.Fprintln(stdout)
	return nil
}

func keyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, keyUsage)
		return usageError{errors.New("key needs a subcommand: add, list or revoke")}
	}
	sub := args[0]
	fs, cfgPath := newFlags("key "+sub, stderr)
	clinic := fs.Int64("clinic", 0, "clinic id (required)")
	label := new(string)
	if sub == "add" {
		fs.StringVar(label, "label", "", "where the key is used, e.g. \"EHR integration\" (required)")
	}
	var keyID int64
	switch sub {
	case "add", "list":
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
	case "revoke":
		// The key's ID after the flags, or before them.
		rest := args[1:]
		if len(rest) > 0 {
			if id, err := strconv.ParseInt(rest[0], 10, 64); err == nil {
				keyID, rest = id, rest[1:]
			}
		}
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		if keyID == 0 && fs.NArg() == 1 {
			id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("key revoke: %q is not a key ID (see aftercare key list)", fs.Arg(0))}
			}
			keyID = id
		} else if fs.NArg() > 0 {
			return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
		}
		if keyID <= 0 {
			return usageError{errors.New("key revoke needs the key's ID (see aftercare key list)")}
		}
	default:
		fmt.Fprintln(stderr, keyUsage)
		return usageError{fmt.Errorf("unknown key subcommand %q", sub)}
	}
	if *clinic <= 0 {
		return usageError{fmt.Errorf("key %s needs --clinic ID", sub)}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		k, secret, err := app.AddKey(ctx, cfg, *clinic, *label)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %d %q added to clinic %d\n", k.ID, k.Label, k.ClinicID)
		fmt.Fprintln(stdout, "API key (shown once; store it safely):")
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		return app.ListKeys(ctx, stdout, cfg, *clinic)
	default:
		if err := app.RevokeKey(ctx, cfg, *clinic, keyID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %d revoked: requests with it are refused from now on\n", keyID)
		return nil
	}
}
