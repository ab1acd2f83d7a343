package protocol

import (
	"fmt"
	"strings"
	texttemplate "text/template"
)

// Phases are what the patient's page says to do and not to do on each day
// after the treatment ("Day 2: no makeup until 4:30 pm; skip the gym and
// pools"). In YAML:
//
//	phases:
//	  - from: 1            first day (the treatment day is day 0)
//	    to: 2              last day, inclusive
//	    title: "..."       text/template
//	    do: ["..."]        text/templates, one line each
//	    dont: ["..."]
//
// Phases are in order of their days and do not overlap; days they leave
// out show no advice (the page says to call the clinic with questions).

type phaseYAML struct {
	From  int      `yaml:"from"`
	To    int      `yaml:"to"`
	Title string   `yaml:"title"`
	Do    []string `yaml:"do"`
	Dont  []string `yaml:"dont"`
}

// Phase is the advice of a run of days.
type Phase struct {
	// From and To are the first and last day (inclusive).
	From, To int
	title    *texttemplate.Template
	do, dont []*texttemplate.Template
}

// PhaseText is a phase rendered for one patient and day.
type PhaseText struct {
	// Date is the local date of the day asked for, short ("Thu 11 Jun").
	Date     string
	Title    string
	Do, Dont []string
}

// maxPhaseLine keeps each line short enough to read on a phone.
const maxPhaseLine = 160

// maxPhaseDay bounds the days a phase may cover (the page's link expires
// well before).
const maxPhaseDay = 400

func buildPhases(raw []phaseYAML) ([]Phase, error) {
	var out []Phase
	parse := func(i int, what, src string) (*texttemplate.Template, error) {
		src = strings.TrimSpace(src)
		if src == "" {
			return nil, fmt.Errorf("phases[%d]: %s: empty", i, what)
		}
		t, err := texttemplate.New(what).Funcs(funcs).Option("missingkey=error").Parse(src)
		if err != nil {
			return nil, fmt.Errorf("phases[%d]: %s: %w", i, what, err)
		}
		for _, d := range samples() {
			var b strings.Builder
			if err := t.Execute(&b, d); err != nil {
				return nil, fmt.Errorf("phases[%d]: %s: %w", i, what, err)
			}
			if n := len([]rune(b.String())); n > maxPhaseLine {
				return nil, fmt.Errorf("phases[%d]: %s: %d characters, at most %d", i, what, n, maxPhaseLine)
			}
		}
		return t, nil
	}
	for i, r := range raw {
		if r.From < 0 || r.To < r.From || r.To > maxPhaseDay {
			return nil, fmt.Errorf("phases[%d]: days %d-%d: from must be 0 or more and to between from and %d", i, r.From, r.To, maxPhaseDay)
		}
		if i > 0 && r.From <= raw[i-1].To {
			return nil, fmt.Errorf("phases[%d]: day %d overlaps or precedes the phase before (to %d): phases go in order of days", i, r.From, raw[i-1].To)
		}
		if len(r.Do)+len(r.Dont) == 0 {
			return nil, fmt.Errorf("phases[%d]: needs at least one do or dont line", i)
		}
		ph := Phase{From: r.From, To: r.To}
		var err error
		if ph.title, err = parse(i, "title", r.Title); err != nil {
			return nil, err
		}
		for j, s := range r.Do {
			t, err := parse(i, fmt.Sprintf("do[%d]", j), s)
			if err != nil {
				return nil, err
			}
			ph.do = append(ph.do, t)
		}
		for j, s := range r.Dont {
			t, err := parse(i, fmt.Sprintf("dont[%d]", j), s)
			if err != nil {
				return nil, err
			}
			ph.dont = append(ph.dont, t)
		}
		out = append(out, ph)
	}
	return out, nil
}

// Phases returns the protocol's phases in order.
func (p *Protocol) Phases() []Phase { return append([]Phase(nil), p.phases...) }

// PhaseOn renders the advice for day (the treatment day is day 0) in the
// protocol's language, with d.Day set to day; false when no phase covers
// it.
func (p *Protocol) PhaseOn(day int, d Data) (PhaseText, bool, error) {
	for _, ph := range p.phases {
		if day < ph.From || day > ph.To {
			continue
		}
		d.setLanguage(p.Language)
		d.Day, d.DaysSince = day, day
		out := PhaseText{Date: d.DateOn(day)}
		exec := func(t *texttemplate.Template) (string, error) {
			var b strings.Builder
			if err := t.Execute(&b, d); err != nil {
				return "", fmt.Errorf("phase days %d-%d: %w", ph.From, ph.To, err)
			}
			return strings.Join(strings.Fields(b.String()), " "), nil
		}
		var err error
		if out.Title, err = exec(ph.title); err != nil {
			return out, false, err
		}
		for _, t := range ph.do {
			s, err := exec(t)
			if err != nil {
				return out, false, err
			}
			out.Do = append(out.Do, s)
		}
		for _, t := range ph.dont {
			s, err := exec(t)
			if err != nil {
				return out, false, err
			}
			out.Dont = append(out.Dont, s)
		}
		return out, true, nil
	}
	return PhaseText{}, false, nil
}
