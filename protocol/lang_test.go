package protocol

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"go.yaml.in/yaml/v3"
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

func TestDatesAndHelpersInLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang      string
		on        civilDate
		n         int // DateOn(n)
		long      string
		short, at string
	}{
		{"en", civilDate{2026, 11, 24}, 4, "Tuesday, November 24", "Tue 24 Nov", "Sat 28 Nov"},
		{"es", civilDate{2026, 11, 24}, 4, "martes 24 de noviembre", "mar 24 nov", "sab 28 nov"},
		{"es", civilDate{2026, 9, 30}, 7, "miércoles 30 de septiembre", "mié 30 sep", "mié 7 oct"},
		{"es", civilDate{2026, 12, 29}, 4, "martes 29 de diciembre", "mar 29 dic", "sab 2 ene"},
		{"es", civilDate{2026, 8, 1}, 1, "sábado 1 de agosto", "sab 1 ago", "dom 2 ago"},
		{"es", civilDate{2027, 2, 26}, 3, "viernes 26 de febrero", "vie 26 feb", "lun 1 mar"},
		{"", civilDate{2026, 3, 9}, 0, "Monday, March 9", "Mon 9 Mar", "Mon 9 Mar"},
		{"fr", civilDate{2026, 3, 9}, 0, "Monday, March 9", "Mon 9 Mar", "Mon 9 Mar"}, // no table: English
	}
	for _, tc := range tests {
		d := Data{treatedOn: tc.on}
		d.setLanguage(tc.lang)
		if d.TreatedDate != tc.long || d.TreatedDay != tc.short || d.DateOn(tc.n) != tc.at {
			t.Errorf("%s %v: %q, %q, DateOn(%d) %q; want %q, %q, %q", tc.lang, tc.on, d.TreatedDate, d.TreatedDay, tc.n, d.DateOn(tc.n), tc.long, tc.short, tc.at)
		}
		if n, unicode := Segments(d.TreatedDay + d.DateOn(tc.n)); unicode {
			t.Errorf("%s %v: short dates are not GSM-7 (%d segments): %q %q", tc.lang, tc.on, n, d.TreatedDay, d.DateOn(tc.n))
		}
	}
	var unknown Data
	unknown.setLanguage("es")
	if unknown.TreatedDate != "" || unknown.DateOn(3) != "" {
		t.Errorf("unknown treatment date: %q %q", unknown.TreatedDate, unknown.DateOn(3))
	}

	books := []struct{ lang, url, want string }{
		{"en", "https://x.example/b", "book online at https://x.example/b"},
		{"en", "", "call us at +14155550123"},
		{"", "", "call us at +14155550123"},
		{"es", "https://x.example/b", "reserva en https://x.example/b"},
		{"es", "", "llama al +14155550123"},
	}
	for _, tc := range books {
		d := Data{BookingURL: tc.url, ClinicPhone: "+14155550123"}
		d.setLanguage(tc.lang)
		if got := d.HowToBook(); got != tc.want {
			t.Errorf("%s HowToBook() = %q, want %q", tc.lang, got, tc.want)
		}
	}
}

// Planning, rendering a step or a reply and the invitation all speak the
// protocol's language, whatever language the data was made in.
func TestRenderSpeaksTheProtocolsLanguage(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	treated := local(t, ny, "2026-11-24 10:00") // a Tuesday
	in := input("America/New_York", treated)
	for lang, want := range map[string]struct{ late, guide, email, summary, desc string }{
		"en": {"since your Tue 24 Nov treatment", "Your treatment was on Tuesday, November 24", "session on Tuesday, November 24",
			"Book session 2 of 3 at Glow Clinic", "To book your next session\\, book online at https://glow.example/book. Or call +14155550123."},
		"es": {"tras tu cita (mar 24 nov)", "Tu tratamiento fue el martes 24 de noviembre", "sesión de microneedling del martes 24 de noviembre",
			"Reserva la sesión 2 de 3 en Glow Clinic", "Para reservar tu próxima sesión\\, reserva en https://glow.example/book. O llama al +14155550123."},
	} {
		p := embeddedProtocols(t)[lang]
		msgs, err := p.Plan(in, Options{}, treated.Add(30*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p, in, QuietHours{}, treated.Add(30*time.Hour), msgs)
		if m := firstText(t, msgs); !strings.Contains(m.Body, want.late) {
			t.Errorf("%s late start = %q, want %q", lang, m.Body, want.late)
		}
		if m := find(t, msgs, "welcome", 0, aftercare.Email); !strings.Contains(m.Body, want.guide) || !strings.Contains(m.HTMLBody, want.guide) {
			t.Errorf("%s guide lacks %q:\n%s", lang, want.guide, m.Body)
		}
		// Data made without a language (NewData, as callers do) renders in
		// the protocol's.
		c, err := p.Render("reintroduce_actives", aftercare.Email, NewData(in))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(c.Text, want.email) {
			t.Errorf("%s reintroduce_actives email lacks %q:\n%s", lang, want.email, c.Text)
		}
		ics, err := p.Invitation(in, find(t, msgs, "book_next", 0, aftercare.Email))
		if err != nil {
			t.Fatal(err)
		}
		unfolded := strings.ReplaceAll(string(ics), "\r\n ", "")
		if !strings.Contains(unfolded, "SUMMARY:"+want.summary+"\r\n") || !strings.Contains(unfolded, "DESCRIPTION:"+want.desc+"\r\n") {
			t.Errorf("%s invitation lacks %q / %q:\n%s", lang, want.summary, want.desc, unfolded)
		}
	}
	es := setupES(t)
	c, err := es.RenderReply(ReplyHelp, aftercare.SMS, NewData(in))
	if err != nil || !strings.HasPrefix(c.Text, "Glow Clinic: mensajes de cuidados") || !strings.Contains(c.Text, "STOP") {
		t.Errorf("Spanish help = %q, %v", c.Text, err)
	}
}

// The Spanish protocol has the English one's plan exactly: the same steps
// in the same order, timings, channels, conditions and flags, and the same
// replies. Only the patient's words differ; texts to staff are the same.
func TestProtocolsInEveryLanguageMatch(t *testing.T) {
	t.Parallel()
	en, es := setup(t), setupES(t)
	if es.Name != en.Name || es.Treatment != en.Treatment || es.Language != "es" || es.Version < 1 {
		t.Errorf("es protocol %q %q %q v%d", es.Name, es.Treatment, es.Language, es.Version)
	}
	if !strings.Contains(es.OptOutNotice, "STOP") || len(es.OptOutNotice) > maxOptOutNotice {
		t.Errorf("es opt-out notice %q", es.OptOutNotice)
	}
	type shape struct {
		Key, Title, At, Stale, EmailStale string
		Channels                          string
		When                              Conditions
		Calendar, RedFlags, SMSFallback   bool
		Daily                             bool
		// Priority and whether the step merges: the caps treat both
		// languages alike.
		Priority int
		Merges   bool
		// The question's window, answers' meanings and follow-ups: both
		// languages branch alike.
		Question string
	}
	shapes := func(p *Protocol) []shape {
		var out []shape
		for _, s := range p.Steps() {
			var chs []string
			for _, c := range s.Channels {
				chs = append(chs, string(c))
			}
			out = append(out, shape{s.Key, s.Title, s.At, s.Stale, s.EmailStale, strings.Join(chs, ","), s.When, s.Calendar, s.RedFlags, s.SMSFallback, s.Daily(), s.Priority, s.Merge != "", questionShape(p, s.Key)})
		}
		return out
	}
	if a, b := shapes(en), shapes(es); !slices.Equal(a, b) {
		t.Errorf("steps differ:\nen %+v\nes %+v", a, b)
	}
	d := longData()
	for _, s := range en.Steps() {
		for _, ch := range s.Channels {
			a, err := en.Render(s.Key, ch, d)
			if err != nil {
				t.Fatal(err)
			}
			b, err := es.Render(s.Key, ch, d)
			if err != nil {
				t.Fatal(err)
			}
			if a.Text == b.Text || a.Subject != "" && a.Subject == b.Subject {
				t.Errorf("%s %s is not translated", s.Key, ch)
			}
		}
	}
	for _, kind := range append(slices.Clone(ReplyKinds), OptionalReplyKinds...) {
		a, err := en.RenderReply(kind, aftercare.SMS, d)
		if err != nil {
			t.Fatal(err)
		}
		b, err := es.RenderReply(kind, aftercare.SMS, d)
		if err != nil {
			t.Fatal(err)
		}
		staff := kind == ReplyRedFlagAlert || kind == ReplyConcernAlert
		if staff != (a.Text == b.Text) {
			t.Errorf("reply %s: staff text %v, same in both %v: %q", kind, staff, a.Text == b.Text, b.Text)
		}
		if staff {
			ae, _ := en.RenderReply(kind, aftercare.Email, d)
			be, _ := es.RenderReply(kind, aftercare.Email, d)
			// The layout around them is the protocol's (lang="es").
			be.HTML = strings.Replace(be.HTML, `lang="es"`, `lang="en"`, 1)
			if ae != be {
				t.Errorf("reply %s email to staff differs between languages", kind)
			}
		}
	}
	// The Spanish emails say lang="es".
	c, err := es.Render("welcome", aftercare.Email, d)
	if err != nil || !strings.Contains(c.HTML, `<html lang="es">`) {
		t.Errorf("Spanish email layout: %v\n%.200s", err, c.HTML)
	}
}

// The Spanish red-flag texts and the full guide name every red flag and
// the clinic's phone, and the guide carries the guide's facts.
func TestSpanishRedFlagsAndGuide(t *testing.T) {
	t.Parallel()
	p := setupES(t)
	d := longData()
	short := append(slices.Clone(redFlagWords["es"]), d.ClinicPhone)
	full := []string{"hinchazón excesiva", "dolor intenso que no cede", "pus o una secreción amarillo verdosa", "fiebre", "ronchas",
		"sangrado que no para", "cambio de color en la piel", d.ClinicPhone}
	for _, step := range []string{"welcome", "day1_checkin", "late_start"} {
		for i, emailOK := range []bool{true, false, true, false, true} {
			d.EmailOK, d.DaysSince = emailOK, []int{0, 1, 3, 5, 20}[i]
			c, err := p.Render(step, aftercare.SMS, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range short {
				if !strings.Contains(c.Text, w) {
					t.Errorf("%s (day %d) lacks %q: %q", step, d.DaysSince, w, c.Text)
				}
			}
		}
	}
	c, err := p.Render("welcome", aftercare.Email, longData())
	if err != nil {
		t.Fatal(err)
	}
	facts := append(full,
		"quemadura de sol leve", "48 a 72 horas", "Espera unas horas antes de lavarte", "solo con agua fresca", "limpiador suave sin fragancia",
		"toques suaves", "nunca frotes", "ácido hialurónico", "crema hidratante", "mucha agua", "al menos 24 a 48 horas",
		"sauna", "baño de vapor", "No te expongas al sol", "sombrero de ala ancha",
		"cepillos de limpieza", "retinoides", "AHA", "BHA", "alcohol", "fragancia", "aceites esenciales fuertes",
		"ibuprofeno", "hielo", "inflamación leve", "amplio espectro y FPS alto", "aunque te quedes en casa",
		"ocho vasos de agua", "vitamina C (cítricos, pimientos)", "vitamina A (verduras de hoja verde, zanahorias)", "omega-3 (salmón, nueces)",
		"Días 1 a 3", "Días 4 a 7", "Semana 2", "lija fina", "de uno en uno", "colágeno se sigue formando", "4 a 6 semanas después de la última sesión",
		"número de emergencias")
	for name, part := range map[string]string{"text": c.Text, "html": strings.ReplaceAll(c.HTML, "&#43;", "+")} {
		for _, f := range facts {
			if !strings.Contains(part, f) {
				t.Errorf("Spanish guide %s lacks %q", name, f)
			}
		}
	}
}

// The default library offers microneedling in English and Spanish.
func TestDefaultLibraryHasSpanish(t *testing.T) {
	t.Parallel()
	l, err := DefaultLibrary()
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Languages("microneedling"); !slices.Equal(got, []string{"en", "es"}) {
		t.Errorf("languages %v", got)
	}
	for _, lang := range []string{"en", "es"} {
		c, err := l.Pick("microneedling", lang, "")
		if err != nil || c.Protocol.Language != lang || c.Note != "" {
			t.Errorf("Pick(%s) = %+v, %v", lang, c, err)
		}
	}
}

// A Spanish protocol that leaves out an optional reply answers with the
// built-in Spanish one, not the English.
func TestOptionalRepliesFollowTheLanguage(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	if err := yaml.Unmarshal(defaultESYAML, &root); err != nil {
		t.Fatal(err)
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "replies" {
			continue
		}
		rs := top.Content[i+1]
		for j := 0; j+1 < len(rs.Content); j += 2 {
			if rs.Content[j].Value == "emergency_answer" {
				rs.Content = append(rs.Content[:j], rs.Content[j+2:]...)
				break
			}
		}
	}
	src, err := yaml.Marshal(&root)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src), "\n    emergency_answer:") || strings.Contains(string(src), "\n  emergency_answer:") {
		t.Fatal("emergency_answer still there")
	}
	p, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.RenderReply(ReplyEmergency, aftercare.SMS, longData())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := setupES(t).RenderReply(ReplyEmergency, aftercare.SMS, longData())
	if got.Text != want.Text || !strings.Contains(got.Text, "911") {
		t.Errorf("left-out emergency answer: %q, want the Spanish built-in %q", got.Text, want.Text)
	}
}

// questionShape summarizes what a step asks: per question (the step's
// and its follow-up's) the window and each answer's meaning.
func questionShape(p *Protocol, step string) string {
	var b strings.Builder
	asks := p.Asks()
	for _, k := range []string{step, step + FollowUpSuffix} {
		a, ok := asks[k]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "%s %s:", k, a.Window)
		for _, n := range AnswerKeys {
			if an, ok := a.Answers[n]; ok {
				fmt.Fprintf(&b, " %s=%s/%v", n, an.Meaning, an.FollowUp != nil)
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}
