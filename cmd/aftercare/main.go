// Command aftercare is the aftercare daemon and its tools:
//
//	aftercare serve    run the daemon (HTTP API, webhooks, scheduler)
//	aftercare demo     watch a patient's six-week plan delivered on a virtual clock
//	aftercare preview  print the plan for a treatment without storing anything
//	aftercare clinic add   create a clinic and print its API key
//	aftercare clinic list|show|update   list, show or change clinics
//	aftercare key add|list|revoke       manage a clinic's API keys
//	aftercare user add     add a staff account for the web console
//	aftercare user list|disable|reset-password   manage staff accounts
//	aftercare check    verify provider configuration
//	aftercare log      print the delivery log; --follow tails new events
//	aftercare backup FILE  write an online, consistent copy of the database
//	aftercare restore FILE put a backup in place (daemon stopped)
//	aftercare migrate --from SQLITE --to POSTGRES  copy a clinic's data into PostgreSQL
//	aftercare protocol lint FILE...  check protocol files (exit 1 on errors)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "time/tzdata" // carry zone data in the binary

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/app"
	"github.com/aftercare/aftercare/config"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage: aftercare <command> [flags]

commands:
  serve         run the daemon: HTTP API, webhooks and the delivery scheduler
  demo          run a patient's whole aftercare plan on a virtual clock (embedded defaults)
  preview       print the plan for a treatment without storing anything
  clinic add    create a clinic and print its API key
  clinic list   list clinics
  clinic show   show a clinic's settings: clinic show ID
  clinic update change settings: clinic update ID --flag value... (every flag of clinic add)
  clinic booking-secret  the booking webhook's signing secret: --clinic ID [--rotate] (printed once)
  key add       make another API key for a clinic: key add --clinic ID --label LABEL
  key list      list a clinic's API keys (never the keys themselves)
  key revoke    revoke a key at once: key revoke --clinic ID KEY_ID
  user add      add a clinic staff account for the web console (/console/)
  user list     list a clinic's staff accounts
  user disable  disable a staff account; its sessions end at once
  user reset-password  set a new password; the user's sessions end at once
  replan        re-plan the waiting messages of a clinic's active enrollments with its current
                protocols: replan --clinic N [--treatment T]; prints the differences (a dry
                run) unless --apply
  check         verify the configuration (providers, public URL) and say what is missing
  log           print the delivery log (--clinic ID or --all; --follow tails new events)
  audit         print the audit trail (--clinic N --patient N --action A --since DATE --csv)
  patient export ID      print everything held about a patient (JSON)
  patient erase ID --yes erase a patient (keeps delivery counts and opt-outs, without identity)
  backup FILE   write a consistent copy of the database to FILE (0600), also while serve runs
  restore FILE  replace the database with a backup (serve must be stopped); messages that
                may have gone out since the backup are checked at the provider before sending
  migrate --from SQLITE --to postgres://…  copy a SQLite database (a snapshot of it: serve may
                run) into an empty PostgreSQL database, verifying every table's row count
  protocol lint FILE...  check protocol files: parse errors, texts over two segments with the
                longest names, characters outside GSM-7, quiet hours and stale times, the
                first text, lock-screen details, days over the clinic's cap; every finding
                with file, line, step and field; exit 1 on errors (--json, --daily-cap N,
                --quiet HH:MM-HH:MM, --allow-treatment-name, --embedded for the built-in ones)

Every command takes --config FILE (YAML); environment variables override it
(AFTERCARE_DB, AFTERCARE_LISTEN, TWILIO_*, SMTP_*; see README).
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "demo":
		err = demo(ctx, args[1:], stdout, stderr)
	case "preview":
		err = preview(args[1:], stdout, stderr)
	case "clinic":
		err = clinicCmd(ctx, args[1:], stdout, stderr)
	case "key":
		err = keyCmd(ctx, args[1:], stdout, stderr)
	case "user":
		sub := ""
		if len(args) > 1 {
			sub = args[1]
		}
		switch sub {
		case "add":
			err = userAdd(ctx, args[2:], os.Stdin, stdout, stderr)
		case "list":
			err = userList(ctx, args[2:], stdout, stderr)
		case "disable":
			err = userDisable(ctx, args[2:], stdout, stderr)
		case "reset-password":
			err = userResetPassword(ctx, args[2:], os.Stdin, stdout, stderr)
		default:
			fmt.Fprint(stderr, userUsage)
			return 2
		}
	case "audit":
		err = auditCmd(ctx, args[1:], stdout, stderr)
	case "patient":
		if len(args) < 3 || (args[1] != "export" && args[1] != "erase") {
			fmt.Fprintln(stderr, "usage: aftercare patient export ID | aftercare patient erase ID --yes")
			return 2
		}
		err = patientCmd(ctx, args[1], args[2:], stdout, stderr)
	case "check":
		err = check(ctx, args[1:], stdout, stderr)
	case "log":
		err = logCmd(ctx, args[1:], stdout, stderr)
	case "backup":
		err = backup(ctx, args[1:], stdout, stderr)
	case "restore":
		err = restore(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = migrateCmd(ctx, args[1:], stdout, stderr)
	case "protocol":
		err = protocolCmd(ctx, args[1:], stdout, stderr)
	case "replan":
		err = replanCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "aftercare: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var usageErr usageError
	if errors.As(err, &usageErr) {
		fmt.Fprintln(stderr, "aftercare:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "aftercare:", err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config file (optional)")
	return fs, cfgPath
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func loadConfig(path string) (*config.Config, error) {
	return config.Load(path, os.Getenv)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs, cfgPath := newFlags("serve", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := app.NewLogger(cfg.Log, os.Stderr)
	a, err := app.New(ctx, app.Options{Config: cfg, Log: log})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		a.Shutdown(context.Background())
		return err
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down: waiting for in-flight sends")
	case err := <-a.ServeErr():
		log.Error("http server stopped", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, _ := newFlags("demo", stderr)
	full := fs.Bool("full", false, "print whole message bodies (emails included)")
	tz := fs.String("tz", "America/New_York", "the demo patient's IANA time zone")
	session := fs.Int("session", 1, "session number")
	series := fs.Int("series", 3, "series length")
	if err := parse(fs, args); err != nil {
		return err
	}
	return app.RunDemo(ctx, app.DemoOptions{Out: stdout, Full: *full, Timezone: *tz, Session: *session, Series: *series})
}

func preview(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("preview", stderr)
	var o app.PreviewOptions
	fs.StringVar(&o.TreatedAt, "treated-at", "", "treatment time, RFC 3339 (required)")
	fs.StringVar(&o.Timezone, "tz", "", "patient's IANA time zone (required)")
	fs.IntVar(&o.Session, "session", 1, "session number")
	fs.IntVar(&o.Series, "series", 1, "series length")
	fs.StringVar(&o.FirstName, "first-name", "Alex", "patient's first name for the templates")
	fs.StringVar(&o.ClinicName, "clinic-name", "Your Clinic", "clinic name for the templates")
	fs.StringVar(&o.ClinicPhone, "clinic-phone", "+14155550100", "clinic phone for the templates")
	fs.StringVar(&o.BookingURL, "booking-url", "", "booking link for the templates")
	fs.BoolVar(&o.SMSConsent, "sms", true, "patient consents to SMS")
	fs.BoolVar(&o.EmailConsent, "email", true, "patient consents to email")
	fs.StringVar(&o.Treatment, "treatment", "microneedling", "treatment (picks the protocol)")
	fs.StringVar(&o.Language, "language", "en", "patient's language: en or es")
	fs.IntVar(&o.DailyCap, "daily-text-cap", 0, "the clinic's daily text cap (0: the default, 2)")
	fs.IntVar(&o.WeeklyCap, "weekly-text-cap", 0, "the clinic's weekly text cap (0: none)")
	enrolledAt := fs.String("enrolled-at", "", "enrollment time, RFC 3339 (default: the treatment time)")
	fs.BoolVar(&o.JSON, "json", false, "print a JSON array")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.TreatedAt == "" || o.Timezone == "" {
		return usageError{errors.New("preview needs --treated-at and --tz")}
	}
	if *enrolledAt != "" {
		t, err := time.Parse(time.RFC3339, *enrolledAt)
		if err != nil {
			return usageError{fmt.Errorf("--enrolled-at: %w", err)}
		}
		o.Now = t
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	return app.Preview(stdout, cfg, o)
}

func clinicAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("clinic add", stderr)
	var c aftercare.Clinic
	fs.StringVar(&c.Name, "name", "", "clinic name (required)")
	fs.StringVar(&c.Phone, "phone", "", "clinic phone patients call, E.164 (required)")
	fs.StringVar(&c.Timezone, "tz", "", "clinic's IANA time zone (required)")
	fs.StringVar(&c.BookingURL, "booking-url", "", "where patients book their next session")
	fs.StringVar(&c.AlertEmail, "alert-email", "", "staff address for red-flag alerts (this or --on-call-phone required)")
	fs.StringVar(&c.OnCallPhone, "on-call-phone", "", "staff mobile for red-flag alerts by SMS")
	fs.StringVar(&c.AfterHoursPhone, "after-hours-phone", "", "number patients are told to call outside opening hours")
	fs.StringVar(&c.SMSFrom, "sms-from", "", "clinic's own Twilio number (default: global twilio.from)")
	fs.StringVar(&c.MessagingServiceSID, "messaging-service-sid", "", "clinic's Twilio Messaging Service")
	fs.StringVar(&c.EmailFrom, "email-from", "", "clinic's sender address (default: global smtp.from)")
	fs.StringVar(&c.ReplyTo, "reply-to", "", "Reply-To address for emails")
	fs.StringVar(&c.DefaultLanguage, "default-language", "", "language of patients enrolled without one: en or es (default en)")
	fs.StringVar(&c.QuietHours, "quiet-hours", "", "no texts in this local window, HH:MM-HH:MM (default: the daemon's quiet_hours)")
	fs.IntVar(&c.DailyTextCap, "daily-text-cap", 0, "most scheduled texts a patient gets a day, 1-3 (0: the default, 2)")
	fs.IntVar(&c.WeeklyTextCap, "weekly-text-cap", 0, "most scheduled texts in 7 days, from the daily cap to 50 (0: none)")
	treatments := fs.String("treatments", "", "treatments offered, comma-separated, each with a protocol (default: every treatment)")
	if err := parse(fs, args); err != nil {
		return err
	}
	c.Treatments = app.SplitTreatments(*treatments)
	if c.Name == "" || c.Phone == "" || c.Timezone == "" {
		return usageError{errors.New("clinic add needs --name, --phone and --tz, and --alert-email or --on-call-phone")}
	}
	if c.AlertEmail == "" && c.OnCallPhone == "" {
		return usageError{errors.New("clinic add needs an alert route for red-flag replies: --alert-email, --on-call-phone, or both")}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	c, key, err := app.AddClinic(ctx, cfg, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "clinic %d %q created in %s\n", c.ID, c.Name, cfg.DB)
	fmt.Fprintln(stdout, "API key (shown once; store it safely):")
	fmt.Fprintln(stdout, key)
	return nil
}

func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("check", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	return app.Check(ctx, stdout, cfg)
}

func logCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("log", stderr)
	var o app.LogOptions
	fs.Int64Var(&o.ClinicID, "clinic", 0, "clinic id (required unless --all)")
	fs.BoolVar(&o.All, "all", false, "every clinic")
	fs.StringVar(&o.Status, "status", "", "only messages in this status (scheduled, sending, sent, delivered, failed, skipped, cancelled)")
	fs.StringVar(&o.Channel, "channel", "", "only sms or email")
	fs.StringVar(&o.Step, "step", "", "only this protocol step, e.g. welcome")
	fs.StringVar(&o.Since, "since", "", "planned send time from: RFC 3339, or a duration ago like 24h")
	fs.StringVar(&o.Until, "until", "", "planned send time before: RFC 3339, a duration ago, or +48h ahead")
	fs.IntVar(&o.Limit, "limit", 50, "show the newest N messages")
	fs.BoolVar(&o.Follow, "follow", false, "then print new events as they happen, until Ctrl-C")
	tz := fs.String("tz", "", "IANA zone to show times in (default: this machine's)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (o.ClinicID == 0) == !o.All {
		return usageError{errors.New("log needs --clinic ID or --all")}
	}
	if *tz != "" {
		loc, err := time.LoadLocation(*tz)
		if err != nil {
			return usageError{fmt.Errorf("--tz: %w", err)}
		}
		o.Location = loc
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	return app.RunLog(ctx, stdout, cfg, o)
}

const userUsage = `usage:
  aftercare user add --clinic ID --email EMAIL [--role admin|staff] [--password-file FILE]
  aftercare user list --clinic ID
  aftercare user disable --clinic ID --email EMAIL
  aftercare user reset-password --clinic ID --email EMAIL [--password-file FILE]
`

func userAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("user add", stderr)
	o := app.UserOptions{Stdin: stdin, Prompt: stderr}
	fs.Int64Var(&o.ClinicID, "clinic", 0, "clinic id, as printed by `clinic add` (required)")
	fs.StringVar(&o.Email, "email", "", "the staff member's email, their sign-in name (required)")
	fs.StringVar(&o.Role, "role", "", "admin (manages users) or staff (default: admin for a clinic's first user, else staff)")
	fs.StringVar(&o.PasswordFile, "password-file", "", "file holding the password (default: prompt, or the first line of standard input)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.ClinicID == 0 || o.Email == "" {
		return usageError{errors.New("user add needs --clinic and --email")}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	u, c, err := app.AddUser(app.CLIContext(ctx), cfg, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %d %s (%s) added to clinic %d %q\n", u.ID, u.Email, u.Role, c.ID, c.Name)
	fmt.Fprintf(stdout, "sign in at %s\n", app.ConsoleURL(cfg))
	return nil
}

func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("backup", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: aftercare backup [--config FILE] DEST") }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("backup needs one destination file: aftercare backup [--config FILE] DEST")}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	dest := fs.Arg(0)
	if err := app.Backup(ctx, cfg, dest); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", cfg.DB, dest)
	return nil
}

func restore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := newFlags("restore", stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: aftercare restore [--config FILE] BACKUP") }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("restore needs one backup file: aftercare restore [--config FILE] BACKUP")}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	n, moved, err := app.Restore(ctx, cfg, fs.Arg(0), time.Now())
	if err != nil {
		return err
	}
	if moved != "" {
		fmt.Fprintf(stdout, "moved the replaced database to %s\n", moved)
	}
	fmt.Fprintf(stdout, "restored %s from %s; %d messages that may have gone out since will be checked at the provider first\n", cfg.DB, fs.Arg(0), n)
	return nil
}

// clinicEmailFlags parses --config, --clinic and (if email is set) --email.
func clinicEmailFlags(name string, args []string, stderr io.Writer, email *string, extra func(*flag.FlagSet)) (*config.Config, int64, error) {
	fs, cfgPath := newFlags(name, stderr)
	clinic := fs.Int64("clinic", 0, "clinic id (required)")
	if email != nil {
		fs.StringVar(email, "email", "", "the user's email (required)")
	}
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args); err != nil {
		return nil, 0, err
	}
	if *clinic <= 0 || (email != nil && *email == "") {
		if email != nil {
			return nil, 0, usageError{fmt.Errorf("%s needs --clinic and --email", name)}
		}
		return nil, 0, usageError{fmt.Errorf("%s needs --clinic", name)}
	}
	cfg, err := loadConfig(*cfgPath)
	return cfg, *clinic, err
}

func userList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, clinicID, err := clinicEmailFlags("user list", args, stderr, nil, nil)
	if err != nil {
		return err
	}
	us, c, err := app.ListUsers(ctx, cfg, clinicID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "clinic %d %q: %d users\n", c.ID, c.Name, len(us))
	for _, u := range us {
		status := "active"
		if !u.DisabledAt.IsZero() {
			status = "disabled " + u.DisabledAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\n", u.ID, u.Email, u.Role, status)
	}
	return nil
}

func userDisable(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var email string
	cfg, clinicID, err := clinicEmailFlags("user disable", args, stderr, &email, nil)
	if err != nil {
		return err
	}
	u, err := app.DisableUser(app.CLIContext(ctx), cfg, clinicID, email)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %d %s disabled; their sessions have ended\n", u.ID, u.Email)
	return nil
}

func userResetPassword(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o := app.UserOptions{Stdin: stdin, Prompt: stderr}
	cfg, clinicID, err := clinicEmailFlags("user reset-password", args, stderr, &o.Email, func(fs *flag.FlagSet) {
		fs.StringVar(&o.PasswordFile, "password-file", "", "file holding the new password (default: prompt, or the first line of standard input)")
	})
	if err != nil {
		return err
	}
	o.ClinicID = clinicID
	u, err := app.ResetPassword(app.CLIContext(ctx), cfg, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password of user %d %s reset; their sessions have ended\n", u.ID, u.Email)
	return nil
}
