package protocol

import (
	"slices"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

// setupES returns the embedded Spanish protocol.
func setupES(t testing.TB) *Protocol {
	t.Helper()
	p, err := Parse(defaultESYAML)
	if err != nil {
		t.Fatalf("parse default.es.yaml: %v", err)
	}
	return p
}

// embeddedProtocols returns the shipped protocols by language.
func embeddedProtocols(t testing.TB) map[string]*Protocol {
	t.Helper()
	return map[string]*Protocol{"en": setup(t), "es": setupES(t)}
}

// worstSMS renders every text of p with the longest names, on every day
// and in every variant, and returns the most segments each takes (steps
// carrying the opt-out notice, as any may be the first text), and
// whether any rendering needs UCS-2.
func worstSMS(t testing.TB, p *Protocol) map[string]smsCost {
	t.Helper()
	base := longData()
	base.AfterHoursPhone = "+14155550124"
	base.Signs = strings.Repeat("s", 120)
	base.Emergency, base.Alert, base.ReplyCount = true, 8, 3
	variants := []func(*Data){
		func(*Data) {},
		func(d *Data) { d.EmailOK = false },
		func(d *Data) { d.BookingURL = "" },
		func(d *Data) { d.SessionNumber, d.SeriesLength, d.NextSession, d.SeriesFinished = 6, 6, 0, true },
		func(d *Data) { d.Emergency, d.Alert = false, 1 },
		// Saturdays: "sab" in Spanish short dates (day 4 and 7 of a
		// treatment on Tuesday 2026-09-29 and Wednesday 2026-09-23).
		func(d *Data) { d.treatedOn = civilDate{2026, 9, 29} },
		func(d *Data) { d.treatedOn = civilDate{2026, 9, 26} },
	}
	out := map[string]smsCost{}
	note := func(name, text string) {
		n, unicode := Segments(text)
		c := out[name]
		c.segments = max(c.segments, n)
		c.chars = max(c.chars, len([]rune(text)))
		c.unicode = c.unicode || unicode
		if n == c.segments {
			c.text = text
		}
		out[name] = c
	}
	for _, edit := range variants {
		d := base
		edit(&d)
		for _, s := range p.Steps() {
			if !slices.Contains(s.Channels, aftercare.SMS) {
				continue
			}
			for day := 0; day <= 61; day++ {
				d.DaysSince = day
				c, err := p.Render(s.Key, aftercare.SMS, d)
				if err != nil {
					t.Fatal(err)
				}
				note(s.Key, c.Text+" "+p.OptOutNotice)
			}
		}
		for _, kind := range append(slices.Clone(ReplyKinds), OptionalReplyKinds...) {
			c, err := p.RenderReply(kind, aftercare.SMS, d)
			if err != nil {
				t.Fatal(err)
			}
			note("reply "+string(kind), c.Text)
		}
	}
	return out
}

type smsCost struct {
	segments, chars int
	unicode         bool
	text            string
}

// spanishBudget is each Spanish text's segment budget where it differs
// from the English two.
var spanishBudget = map[string]int{}

// Every Spanish text fits its budget (two segments, as in English) in
// GSM-7 with a 40-character clinic name and a 20-character first name, on
// any day and in any variant, carrying the opt-out notice where it may.
func TestSpanishTextsFitTwoSegments(t *testing.T) {
	t.Parallel()
	for name, c := range worstSMS(t, setupES(t)) {
		budget := 2
		if b, ok := spanishBudget[name]; ok {
			budget = b
		}
		if c.unicode {
			t.Errorf("%s needs UCS-2: %q", name, c.text)
		}
		if c.segments > budget {
			t.Errorf("%s takes %d segments (%d characters), budget %d: %q", name, c.segments, c.chars, budget, c.text)
		}
	}
}
