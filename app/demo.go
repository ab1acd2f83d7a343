package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/notify"
)

// DemoOptions tune the demo.
type DemoOptions struct {
	Out        io.Writer
	Full       bool   // print whole message bodies
	Timezone   string // the patient's zone
	Session    int
	Series     int
	Start      time.Time // treatment time; zero = today 14:30 in Timezone
	MaxVirtual time.Duration
}

// virtualClock is the demo's clock: it jumps from one due message to the
// next.
type virtualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *virtualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *virtualClock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.t) {
		c.t = t
	}
	c.mu.Unlock()
}

// RunDemo runs aftercare on embedded defaults, with a temporary SQLite
// database, the console notifier and a virtual clock: it enrolls a demo
// patient and delivers their whole plan, printing each message in the
// patient's local time as it goes out.
func RunDemo(ctx context.Context, o DemoOptions) error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Timezone == "" {
		o.Timezone = "America/New_York"
	}
	if o.Session == 0 {
		o.Session, o.Series = 1, 3
	}
	if o.MaxVirtual == 0 {
		o.MaxVirtual = 400 * 24 * time.Hour
	}
	loc, err := time.LoadLocation(o.Timezone)
	if err != nil {
		return fmt.Errorf("demo time zone: %w", err)
	}
	start := o.Start
	if start.IsZero() {
		y, m, d := time.Now().In(loc).Date()
		start = time.Date(y, m, d, 14, 30, 0, 0, loc)
	}
	dir, err := os.MkdirTemp("", "aftercare-demo-")
	if err != nil {
		return fmt.Errorf("demo temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	clock := &virtualClock{t: start.Add(5 * time.Minute)}
	cfg := config.Default()
	cfg.DB = filepath.Join(dir, "demo.db")
	a, err := New(ctx, Options{Config: cfg, Clock: clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer a.closeAll()
	printer := &demoPrinter{w: o.Out, loc: loc, start: start, full: o.Full, clock: clock}
	a.Senders[aftercare.SMS] = printer
	a.Senders[aftercare.Email] = printer

	clinic, _, err := a.Store.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@glow.example", Name: "Glow Skin Clinic", Phone: "+14155550100",
		Timezone: o.Timezone, BookingURL: "https://glow.example/book"})
	if err != nil {
		return err
	}
	v, _, err := a.Enroll.Enroll(ctx, clinic, enroll.Request{
		FirstName: "Alex", LastName: "Rivera", Phone: "+14155550123", Email: "alex@example.com",
		Timezone: o.Timezone, SMSConsent: true, EmailConsent: true, ConsentMethod: aftercare.ConsentFrontDesk,
		TreatedAt: start.Format(time.RFC3339), SessionNumber: o.Session, SeriesLength: o.Series,
	}, "")
	if err != nil {
		return fmt.Errorf("demo enrollment: %w", err)
	}
	fmt.Fprintf(o.Out, "aftercare demo: %s, session %d of %d, treated %s (%s)\n", clinic.Name, o.Session, o.Series,
		start.Format("Mon 2 Jan 2006 15:04 MST"), o.Timezone)
	fmt.Fprintf(o.Out, "Enrolled at %s; %d messages planned. Delivering on a virtual clock:\n\n",
		clock.Now().In(loc).Format("15:04"), len(v.Messages))
	for _, m := range v.Messages {
		if m.Status == aftercare.StatusSkipped {
			fmt.Fprintf(o.Out, "  planned as skipped: %-16s %-5s %s\n", m.Step, m.Channel, m.Reason)
		}
	}
	fmt.Fprintf(o.Out, "\n%-6s %-22s %-5s %-20s %s\n", "DAY", "LOCAL TIME", "CHAN", "STEP", "MESSAGE")

	d := a.Dispatcher
	limit := start.Add(o.MaxVirtual)
	for i := 0; i < 10000; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := a.Store.NextDue(ctx)
		if err != nil {
			return err
		}
		if next.IsZero() || next.After(limit) {
			break
		}
		clock.Set(next)
		if _, err := d.RunOnce(ctx); err != nil {
			return err
		}
		if _, err := a.Store.SkipStale(ctx, clock.Now()); err != nil {
			return err
		}
	}
	final, err := a.Store.Enrollment(ctx, clinic.ID, v.Enrollment.ID)
	if err != nil {
		return err
	}
	counts := map[aftercare.Status]int{}
	for _, m := range final.Messages {
		counts[m.Status]++
	}
	var parts []string
	for _, s := range aftercare.Statuses {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(o.Out, "\nDone: %s. Every transition is recorded; try `aftercare serve` and GET /v1/enrollments/{id}.\n", strings.Join(parts, ", "))
	return nil
}

// demoPrinter is the demo's notifier: a readable line per message.
type demoPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	loc   *time.Location
	start time.Time
	full  bool
	clock *virtualClock
}

func (p *demoPrinter) Send(ctx context.Context, m notify.Message) (string, error) {
	now := p.clock.Now().In(p.loc)
	y0, m0, d0 := p.start.In(p.loc).Date()
	day := int(time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, time.UTC).Sub(time.Date(y0, m0, d0, 12, 0, 0, 0, time.UTC)).Hours() / 24)
	text := m.Body
	if m.Channel == aftercare.Email {
		text = "Subject: " + m.Subject
		if p.full {
			text += "\n" + m.Body
		}
	} else if !p.full {
		text = oneLine(text, 90)
	}
	step := m.Step
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%-6s %-22s %-5s %-20s %s\n", fmt.Sprintf("d%d", day), now.Format("Mon 02 Jan 15:04 MST"),
		strings.ToUpper(string(m.Channel)), step, text)
	return fmt.Sprintf("demo-%d", m.ID), nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
