package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/api"
	"github.com/aftercare/aftercare/store"
)

// statsDefaultWeeks is how many weeks the stats page shows unless asked.
const statsDefaultWeeks = 12

// statsView is the data of the stats page.
type statsView struct {
	// From, To and Treatment are what the form shows (as typed when it
	// has errors).
	From, To, Treatment string
	Treatments          []string
	Errors              []fieldError
	FieldErrors         map[string]string
	Zone                string
	// Page is the API's answer (nil when the form has errors): the same
	// numbers GET /v1/stats gives.
	Page   *api.StatsPage
	Charts []statsChart
	CSVURL string
}

// statsPage serves GET /console/stats: outcomes per week and treatment,
// as charts and tables, or as CSV with format=csv.
func (c *Console) statsPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	ctx := r.Context()
	loc := loadZone(s.Clinic.Timezone)
	y, m, d := c.now().In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
	q := r.URL.Query()
	// Empty fields (the form sent them blank) take the defaults.
	for _, k := range []string{"from", "to", "treatment", "format"} {
		if q.Has(k) && q.Get(k) == "" {
			q.Del(k)
		}
	}
	v := statsView{From: q.Get("from"), To: q.Get("to"), Treatment: q.Get("treatment"), Zone: loc.String(),
		FieldErrors: map[string]string{}}
	treatments, err := c.treatments(ctx, s.ClinicID)
	if err != nil {
		return err
	}
	sq, err := api.ParseStatsQuery(q, monday.AddDate(0, 0, -7*(statsDefaultWeeks-1)), today)
	var st store.Stats
	if err == nil {
		st, err = c.store.Stats(ctx, s.ClinicID, sq.From, sq.To)
	}
	if all := aftercare.AllErrors(err); aftercare.ErrorCode(err) == aftercare.EINVALID && len(all) > 0 {
		for _, e := range all {
			v.Errors = append(v.Errors, fieldError{Field: e.Field, Message: e.Field + ": " + e.Message})
			if _, ok := v.FieldErrors[e.Field]; !ok {
				v.FieldErrors[e.Field] = e.Message
			}
		}
		v.Treatments = treatments
		c.render(w, r, http.StatusBadRequest, "stats", c.view(s, "Outcomes", "stats", v))
		return nil
	}
	if err != nil {
		return err
	}
	if sq.CSV {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+api.StatsFilename(st)+`"`)
		return api.WriteStatsCSV(w, st, sq.Treatment)
	}
	v.From, v.To, v.Treatment = sq.From.Format(api.DateLayout), sq.To.Format(api.DateLayout), sq.Treatment
	for _, r := range st.Rows {
		if !slices.Contains(treatments, r.Treatment) {
			treatments = append(treatments, r.Treatment)
		}
	}
	v.Treatments = treatments
	page := api.NewStatsPage(st, sq.Treatment)
	v.Page = &page
	v.Charts = statsCharts(page)
	csvQ := url.Values{"from": {v.From}, "to": {v.To}, "format": {"csv"}}
	if v.Treatment != "" {
		csvQ.Set("treatment", v.Treatment)
	}
	v.CSVURL = "/console/stats?" + csvQ.Encode()
	c.render(w, r, http.StatusOK, "stats", c.view(s, "Outcomes", "stats", v))
	return nil
}

// statsChart is a server-rendered SVG bar chart with one bar per week.
type statsChart struct {
	ID, Title, Desc string
	Width, Height   int
	Left, Right     int
	Baseline        int
	Bars            []bar
	Labels          []label
	Ticks           []label
	// Rows are the same numbers as a table.
	Rows []statsChartRow
}

type statsChartRow struct {
	Week, Value string
}

// statsCharts draws the page's four weekly charts: enrollments, texts
// delivered %, opt-out % and rebooking %.
func statsCharts(p api.StatsPage) []statsChart {
	type val struct {
		v  float64
		ok bool
	}
	pctOf := func(f *float64) val {
		if f == nil {
			return val{}
		}
		return val{*f, true}
	}
	specs := []struct {
		id, title, desc string
		pct             bool
		get             func(api.StatsRow) val
	}{
		{"enrollments", "Enrollments per week", "Patients enrolled per week of treatment.", false,
			func(r api.StatsRow) val { return val{float64(r.Enrollments), true} }},
		{"delivered", "Texts delivered (%) per week", "Of the texts that left the outbox, the share the carrier confirmed delivered.", true,
			func(r api.StatsRow) val { return pctOf(r.SMS.DeliveredPct) }},
		{"optouts", "Text opt-outs (%) per week", "The share of the week's patients who replied STOP (or opted out at the carrier).", true,
			func(r api.StatsRow) val { return pctOf(r.OptOuts.SMSPct) }},
		{"rebooking", "Rebooked within 6 weeks (%) per week", "Of the week's sessions of an unfinished series, the share whose next session was treated within 42 days.", true,
			func(r api.StatsRow) val { return pctOf(r.Rebooking.Pct) }},
	}
	const (
		width, height = 720, 200
		left, right   = 44, 12
		top, bottom   = 12, 40
	)
	var out []statsChart
	for _, sp := range specs {
		ch := statsChart{ID: "chart-" + sp.id, Title: sp.title, Width: width, Height: height, Left: left, Right: width - right,
			Baseline: height - bottom}
		vals := make([]val, len(p.Weeks))
		top1 := 1.0
		for i, w := range p.Weeks {
			vals[i] = sp.get(w)
			top1 = max(top1, vals[i].v)
		}
		scale := 100.0
		if !sp.pct {
			scale = float64(niceCeil(int(math.Ceil(top1))))
		}
		plotH := float64(height - top - bottom)
		n := max(len(p.Weeks), 1)
		group := (width - left - right) / n
		barW := max(group-6, 2)
		y := func(v float64) int { return height - bottom - int(math.Round(v*plotH/scale)) }
		shown := 0
		for i, w := range p.Weeks {
			x := left + i*group + 3
			wk, _ := time.Parse(api.DateLayout, w.Week)
			name := "week of " + wk.Format("Mon 2 Jan 2006")
			text := "no data"
			if vals[i].ok {
				shown++
				text = formatStat(vals[i].v, sp.pct)
				ch.Bars = append(ch.Bars, bar{X: x, Y: y(vals[i].v), W: barW, H: height - bottom - y(vals[i].v), Class: "bar-sent",
					Title: name + ": " + text})
			}
			ch.Rows = append(ch.Rows, statsChartRow{Week: wk.Format("2 Jan 2006"), Value: text})
			if n <= 16 || i%2 == 0 {
				ch.Labels = append(ch.Labels, label{X: x + barW/2, Y: height - bottom + 16, Text: wk.Format("2 Jan")})
			}
		}
		for _, v := range []float64{0, scale / 2, scale} {
			if !sp.pct && v == scale/2 && (int(scale)%2 != 0 || scale < 2) {
				continue
			}
			tick := strconv.FormatFloat(v, 'f', 0, 64)
			if sp.pct {
				tick += "%"
			}
			ch.Ticks = append(ch.Ticks, label{X: left - 6, Y: y(v) + 4, Text: tick})
		}
		ch.Desc = fmt.Sprintf("%s %d weeks from %s to %s; %d with data.", sp.desc, len(p.Weeks), p.From, p.To, shown)
		out = append(out, ch)
	}
	return out
}

// formatStat writes a count, or a percentage with one decimal.
func formatStat(v float64, pct bool) string {
	if pct {
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// pctText shows a percentage or "—" when there is nothing to divide by.
func pctText(p *float64) string {
	if p == nil {
		return "—"
	}
	return formatStat(*p, true)
}

// secondsText shows a duration in seconds as minutes (or hours), "—"
// when nil.
func secondsText(s *int64) string {
	if s == nil {
		return "—"
	}
	d := time.Duration(*s) * time.Second
	if d < time.Hour {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " min"
	}
	return strconv.FormatFloat(d.Hours(), 'f', 1, 64) + " h"
}
