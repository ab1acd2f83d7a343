package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/logmask"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/store"
)

// LogOptions select what `aftercare log` prints.
type LogOptions struct {
	// ClinicID limits the log to one clinic; All must be set instead to
	// see every clinic.
	ClinicID int64
	All      bool
	Status   string // a message status (for --follow: the status an event moves to)
	Channel  string // sms or email
	Step     string // a protocol step key, e.g. welcome
	// Since and Until bound the planned send time: RFC 3339, a duration
	// ago ("24h", "30m") or, with a leading "+", a duration ahead ("+48h").
	Since, Until string
	Limit        int  // newest messages shown (default 50)
	Follow       bool // then print new events until ctx is done
	// Location is the zone times are shown in (default the machine's).
	Location *time.Location
	// Interval is how often --follow polls (default 1s).
	Interval time.Duration
	// Now defaults to time.Now (for Since/Until durations).
	Now func() time.Time
}

// followPage bounds the events read per poll.
const followPage = 500

// RunLog prints the delivery log of the configured database: one line per
// message (time, id, channel, step, status, masked recipient, reason),
// newest last, then, with Follow, one line per new event until ctx is
// done. Phone numbers and emails are masked, in reasons too.
func RunLog(ctx context.Context, w io.Writer, cfg *config.Config, o LogOptions) error {
	f, err := o.filter()
	if err != nil {
		return err
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	// Never create a database by looking at one.
	if path, ok := store.SQLitePath(cfg.DB); ok {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("open delivery log: %w", err)
		}
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return err
	}
	defer s.Close()

	// Taken before the listing, so no event between the two is lost.
	last, err := s.LastEventID(ctx)
	if err != nil {
		return err
	}
	entries, err := s.TailMessages(ctx, f)
	if err != nil {
		return err
	}
	p := logPrinter{w: w, loc: o.Location, clinic: o.All}
	p.header()
	for _, e := range entries {
		p.message(e)
	}
	if len(entries) == 0 {
		fmt.Fprintln(w, "(no messages match)")
	}
	if !o.Follow {
		return p.err
	}
	fmt.Fprintln(w, "-- following new events (Ctrl-C to stop)")
	f.Limit = followPage
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return p.err
		case <-tick.C:
		}
		if last, err = follow(ctx, s, &p, f, last); err != nil {
			if ctx.Err() != nil {
				return p.err
			}
			return err
		}
		if p.err != nil {
			return p.err
		}
	}
}

// follow prints the events after last that match f and returns the id to
// continue after. It also skips past events that do not match, so a narrow
// filter does not rescan an ever longer tail.
func follow(ctx context.Context, s *store.Store, p *logPrinter, f store.TailFilter, last int64) (int64, error) {
	for i := 0; i < 1000; i++ { // at most 500k events per poll
		// Every event up to hi is committed (one writer, ids in commit
		// order), so after a short page nothing at or below hi is missed.
		hi, err := s.LastEventID(ctx)
		if err != nil {
			return last, err
		}
		evs, err := s.EventsAfter(ctx, last, f)
		if err != nil {
			return last, err
		}
		for _, ev := range evs {
			p.event(ev)
			last = ev.Event.ID
		}
		if len(evs) < f.Limit {
			return max(last, hi), nil
		}
	}
	return last, nil
}

func (o LogOptions) filter() (store.TailFilter, error) {
	f := store.TailFilter{ClinicID: o.ClinicID, Step: o.Step, Limit: o.Limit}
	switch {
	case o.All && o.ClinicID != 0:
		return f, errors.New("give either --clinic or --all, not both")
	case !o.All && o.ClinicID <= 0:
		return f, errors.New("give --clinic ID (or --all for every clinic)")
	}
	if o.All {
		f.ClinicID = 0
	}
	if o.Status != "" {
		if f.Status = aftercare.Status(o.Status); !f.Status.Valid() {
			return f, fmt.Errorf("--status %q: want one of %s", o.Status, statusNames())
		}
	}
	if o.Channel != "" {
		if f.Channel = aftercare.Channel(o.Channel); !f.Channel.Valid() {
			return f, fmt.Errorf("--channel %q: want sms or email", o.Channel)
		}
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var err error
	if f.From, err = parseWhen(o.Since, now()); err != nil {
		return f, fmt.Errorf("--since: %w", err)
	}
	if f.To, err = parseWhen(o.Until, now()); err != nil {
		return f, fmt.Errorf("--until: %w", err)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, errors.New("--since must be before --until")
	}
	return f, nil
}

// parseWhen reads an RFC 3339 time, a duration ago ("24h") or a duration
// ahead ("+48h"). "" is the zero time (no bound).
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	ahead := strings.HasPrefix(s, "+")
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil || d < 0 || strings.HasPrefix(s, "-") {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-25T14:30:00-05:00) nor a duration like 24h or +48h", s)
	}
	if ahead {
		return now.Add(d), nil
	}
	return now.Add(-d), nil
}

func statusNames() string {
	names := make([]string, len(aftercare.Statuses))
	for i, s := range aftercare.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// logPrinter writes log lines and remembers the first write error.
type logPrinter struct {
	w      io.Writer
	loc    *time.Location
	clinic bool // show the clinic column (--all)
	err    error
}

const logTimeLayout = "2006-01-02 15:04:05 MST"

func (p *logPrinter) line(t time.Time, clinicID int64, e store.TailEntry, status, reason string) {
	if p.err != nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-23s  ", t.In(p.loc).Format(logTimeLayout))
	if p.clinic {
		fmt.Fprintf(&b, "%-6s  ", "c"+strconv.FormatInt(clinicID, 10))
	}
	step := e.Message.Step
	if e.Message.Occurrence > 0 {
		step += "#" + strconv.Itoa(e.Message.Occurrence)
	}
	fmt.Fprintf(&b, "%-7s  %-5s  %-22s  %-9s  %-18s  %s", "#"+strconv.FormatInt(e.Message.ID, 10),
		e.Message.Channel, step, status, notify.Mask(e.To), oneLine(logmask.String(reason), 160))
	_, p.err = fmt.Fprintln(p.w, strings.TrimRight(b.String(), " "))
}

func (p *logPrinter) header() {
	if p.err != nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-23s  ", "TIME")
	if p.clinic {
		fmt.Fprintf(&b, "%-6s  ", "CLINIC")
	}
	fmt.Fprintf(&b, "%-7s  %-5s  %-22s  %-9s  %-18s  %s", "ID", "CHAN", "STEP", "STATUS", "TO", "REASON")
	_, p.err = fmt.Fprintln(p.w, b.String())
}

// message prints a message: when it went out (or is planned), its status
// and why it is in it.
func (p *logPrinter) message(e store.TailEntry) {
	m := e.Message
	t := m.SendAt
	if !m.SentAt.IsZero() {
		t = m.SentAt
	}
	reason := m.Reason
	if reason == "" && m.Status == aftercare.StatusScheduled && m.LastError != "" {
		reason = "retrying after: " + m.LastError
	}
	p.line(t, m.ClinicID, e, string(m.Status), reason)
}

// event prints one transition: its time, the new status and its detail.
func (p *logPrinter) event(ev store.TailEvent) {
	p.line(ev.Event.At, ev.Message.ClinicID, ev.TailEntry, string(ev.Event.To), ev.Event.Detail)
}
