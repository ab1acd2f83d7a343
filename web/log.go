package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// logPageSize is how many messages one page of the delivery log shows.
const logPageSize = 100

// chartDays is how many days the sends-and-failures chart covers.
const chartDays = 14

// logView is the delivery log page.
type logView struct {
	// The filter as typed.
	Status, Channel, Step, From, To string
	Error                           string

	Statuses []aftercare.Status
	Channels []aftercare.Channel
	Steps    []Step
	Zone     string

	Entries  []store.LogEntry
	Offset   int
	PrevURL  string
	NextURL  string
	Counts   []statusCount
	TodayAll int
	WeekAll  int
	Chart    chart
}

type statusCount struct {
	Status      aftercare.Status
	Today, Week int
}

func (c *Console) logPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	q := r.URL.Query()
	loc := loadZone(s.Clinic.Timezone)
	v := logView{Status: q.Get("status"), Channel: q.Get("channel"), Step: q.Get("step"), From: q.Get("from"),
		To: q.Get("to"), Statuses: aftercare.Statuses, Channels: []aftercare.Channel{aftercare.SMS, aftercare.Email},
		Steps: c.steps, Zone: s.Clinic.Timezone}
	f := store.LogFilter{ClinicID: s.ClinicID, Limit: logPageSize, Now: c.now()}
	if st := aftercare.Status(v.Status); st.Valid() {
		f.Status = st
	} else {
		v.Status = ""
	}
	if ch := aftercare.Channel(v.Channel); ch.Valid() {
		f.Channel = ch
	} else {
		v.Channel = ""
	}
	if len(v.Step) <= 100 {
		f.Step = v.Step
	}
	var err error
	if f.From, err = parseDay(v.From, loc); err != nil {
		v.Error = "The “from” date is not a date."
	}
	if f.To, err = parseDay(v.To, loc); err != nil {
		v.Error = "The “to” date is not a date."
	} else if !f.To.IsZero() {
		f.To = addDays(f.To, 1, loc) // the "to" day is included
	}
	f.Offset, _ = strconv.Atoi(q.Get("offset"))
	f.Offset = max(f.Offset, 0)
	v.Offset = f.Offset

	entries, more, err := c.store.DeliveryLog(r.Context(), f)
	if err != nil {
		return err
	}
	if err := c.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: s.ClinicID, Action: aftercare.AuditSearch,
		Detail: fmt.Sprintf("console delivery log: %d messages", len(entries))}); err != nil {
		return err
	}
	v.Entries = entries
	page := func(off int) string {
		u := url.Values{}
		for _, k := range []string{"status", "channel", "step", "from", "to"} {
			if val := q.Get(k); val != "" {
				u.Set(k, val)
			}
		}
		if off > 0 {
			u.Set("offset", strconv.Itoa(off))
		}
		return "/console/log?" + u.Encode()
	}
	if more {
		v.NextURL = page(f.Offset + logPageSize)
	}
	if f.Offset > 0 {
		v.PrevURL = page(max(f.Offset-logPageSize, 0))
	}

	today := startOfDay(c.now(), loc)
	tomorrow := addDays(today, 1, loc)
	day, week, err := c.store.StatusCounts(r.Context(), s.ClinicID, today, addDays(today, -6, loc), tomorrow)
	if err != nil {
		return err
	}
	for _, st := range aftercare.Statuses {
		v.Counts = append(v.Counts, statusCount{Status: st, Today: day[st], Week: week[st]})
		v.TodayAll += day[st]
		v.WeekAll += week[st]
	}
	days := make([]store.DayRange, chartDays)
	for i := range days {
		start := addDays(today, i-chartDays+1, loc)
		days[i] = store.DayRange{Start: start, End: addDays(start, 1, loc)}
	}
	daily, err := c.store.DailyCounts(r.Context(), s.ClinicID, days)
	if err != nil {
		return err
	}
	v.Chart = buildChart(daily, loc)
	c.render(w, r, http.StatusOK, "log", c.view(s, "Delivery log", "log", v))
	return nil
}

// parseDay reads a date input (YYYY-MM-DD) as the start of that day in loc;
// empty is the zero time.
func parseDay(s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, loc)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// startOfDay is local midnight of t's day in loc.
func startOfDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// addDays moves a local midnight by n calendar days (days are 23-25 hours
// long across daylight-saving changes).
func addDays(midnight time.Time, n int, loc *time.Location) time.Time {
	y, m, d := midnight.In(loc).Date()
	return time.Date(y, m, d+n, 0, 0, 0, 0, loc)
}

// chart is a server-rendered SVG bar chart of sends and failures per day.
type chart struct {
	Width, Height int
	Bars          []bar
	Labels        []label
	Ticks         []label
	Rows          []chartRow // the same numbers, as a table
	Summary       string
	Baseline      int
	Left, Right   int
}

type bar struct {
	X, Y, W, H int
	Class      string
	Title      string
}

type label struct {
	X, Y int
	Text string
}

type chartRow struct {
	Day          string
	Sent, Failed int
}

// buildChart lays out two bars per day (sent, failed) on a shared scale.
func buildChart(days []store.DayCount, loc *time.Location) chart {
	const (
		width, height = 720, 220
		left, right   = 44, 12
		top, bottom   = 12, 40
	)
	ch := chart{Width: width, Height: height, Baseline: height - bottom, Left: left, Right: width - right}
	top1 := 1
	sent, failed := 0, 0
	for _, d := range days {
		top1 = max(top1, d.Sent, d.Failed)
		sent += d.Sent
		failed += d.Failed
	}
	scale := niceCeil(top1)
	plotH := height - top - bottom
	n := max(len(days), 1)
	group := (width - left - right) / n
	barW := max((group-8)/2, 2)
	y := func(v int) int { return height - bottom - v*plotH/scale }
	for i, d := range days {
		x := left + i*group + 4
		day := d.Day.Start.In(loc)
		name := day.Format("Mon 2 Jan")
		ch.Bars = append(ch.Bars,
			bar{X: x, Y: y(d.Sent), W: barW, H: height - bottom - y(d.Sent), Class: "bar-sent", Title: fmt.Sprintf("%s: %d sent", name, d.Sent)},
			bar{X: x + barW, Y: y(d.Failed), W: barW, H: height - bottom - y(d.Failed), Class: "bar-failed", Title: fmt.Sprintf("%s: %d failed", name, d.Failed)})
		ch.Labels = append(ch.Labels, label{X: x + barW, Y: height - bottom + 16, Text: day.Format("2")})
		if i == 0 || day.Day() == 1 {
			ch.Labels = append(ch.Labels, label{X: x + barW, Y: height - bottom + 32, Text: day.Format("Jan")})
		}
		ch.Rows = append(ch.Rows, chartRow{Day: name, Sent: d.Sent, Failed: d.Failed})
	}
	for _, v := range []int{0, scale / 2, scale} {
		if v == scale/2 && (scale%2 != 0 || scale < 2) {
			continue
		}
		ch.Ticks = append(ch.Ticks, label{X: left - 6, Y: y(v) + 4, Text: strconv.Itoa(v)})
	}
	ch.Summary = fmt.Sprintf("Last %d days: %d sent, %d failed.", len(days), sent, failed)
	return ch
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v int) int {
	p := 1
	for {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
		p *= 10
	}
}
