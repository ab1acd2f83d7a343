package protocol

import (
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

// redFlagWords are what every red-flag text names, by language.
var redFlagWords = map[string][]string{
	"en": {"swelling", "pain that won't ease", "pus", "fever", "hives", "bleeding that won't stop", "discoloration"},
	"es": {"muy hinchada", "dolor que no cede", "pus", "fiebre", "ronchas", "sangrado que no para", "cambio de color"},
}

// phrases are the words the safety tests look for in each shipped
// protocol other than the English one, keyed by the English words.
var phrases = map[string]map[string]string{
	"es": {
		"Hi Maya, redness and swelling are normal":        "Maya, piel roja e hinchada: normal",
		"Your care guide is in your email":                "Te enviamos tus cuidados por email",
		"since your":                                      "tras tu cita",
		"since your Tue 24 Nov treatment":                 "tras tu cita (mar 24 nov)",
		"since your Tue 9 Jun treatment: still no makeup": "tras tu cita (mar 9 jun): sigue sin maquillaje",
		"still no makeup":                                 "sigue sin maquillaje",
		"ibuprofen or ice":                                "ibuprofeno ni hielo",
		"before Tue 1 Dec":                                "hasta el mar 1 dic",
		"makeup":                                          "maquillaje",
		"today":                                           "hoy",
		"ibuprofen":                                       "ibuprofeno",
		"4-6 weeks after your last session":               "4-6 semanas tras tu serie",
		"may already be behind you":                       "ya hayan quedado atrás",
		"Hi Zoë,":                                         ": Zoë,",

		// Essentials by text.
		"cool water only":  "solo agua fresca",
		"no makeup":        "sin maquillaje",
		"makeup again now": "ya puedes volver a maquillarte",
		"sweat":            "sudor",
		"pools":            "piscinas",
		"saunas":           "saunas",
		"steam rooms":      "baños de vapor",
		" ice":             " hielo",
		// The texts say "sérum" (the guide's hydrating serum); the email
		// names hyaluronic acid (ácido hialurónico, not GSM-7).
		"Hyaluronic acid serum and moisturizer help": "Ayudan tu sérum y tu crema hidratante",
		"alcohol":                               "alcohol",
		"fragrance":                             "perfume",
		"no scrubs":                             "sin exfoliantes",
		"two weeks on, your usual skincare":     "a dos semanas ya puedes volver a tu rutina",
		"4-6 weeks after the last session":      "4-6 semanas después de terminar tu serie",
		"pain that won't ease":                  "dolor que no cede",
		"Sunscreen, day 1 of 14":                "Protector solar (1 de 14)",
		"maintenance session every 6-12 months": "cita de mantenimiento cada 6-12 meses",
		"lukewarm":                              "tibia",

		// Wording true when sent late.
		"6 weeks since your session on Wed 30 Sep": "6 semanas desde tu tratamiento del mié 30 sep",
		"closing":             "cierra",
		"four weeks since":    "cuatro semanas desde",
		"4 weeks since":       "4 semanas desde",
		"within 1 to 2 weeks": "en 1 a 2 semanas",
		"glow shows":          "se verá el brillo",
		"pools, saunas, steam rooms and hot yoga until Sun 4 Oct": "piscinas, saunas, baños de vapor y hot yoga hasta el dom 4 oct",
		"cool water":            "agua fresca",
		"cool water only today": "hoy solo agua fresca",
		"makeup OK after 48h":   "maquillaje tras 48h",
		// Day 3: pools and saunas are fine from day 4 ("desde").
		"before Sun 4 Oct":                               "desde el dom 4 oct",
		"before Wed 7 Oct":                               "hasta el mié 7 oct",
		"actives can return one at a time":               "retoma tus activos de uno en uno",
		"results show 4-6 weeks after your last session": "lo mejor se ve 4-6 semanas tras tu serie",
	},
}

// say returns the words of an English phrase in lang.
func say(t testing.TB, lang string, phrase string) string {
	t.Helper()
	if lang == "en" {
		return phrase
	}
	w, ok := phrases[lang][phrase]
	if !ok {
		t.Fatalf("no %s words for %q", lang, phrase)
	}
	return w
}

func sayAll(t testing.TB, lang string, phrases []string) []string {
	t.Helper()
	out := make([]string, len(phrases))
	for i, p := range phrases {
		out[i] = say(t, lang, p)
	}
	return out
}

// firstText returns the first scheduled text of a plan.
func firstText(t *testing.T, msgs []aftercare.Message) aftercare.Message {
	t.Helper()
	for _, m := range msgs {
		if m.Channel == aftercare.SMS && m.Status == aftercare.StatusScheduled {
			return m
		}
	}
	t.Fatalf("no scheduled text in plan:\n%s", strings.Join(rows(msgs, time.UTC), "\n"))
	return aftercare.Message{}
}

// However late the enrollment (the API takes treatments up to 60 days
// back), the first text names the red flags and the clinic's phone, says
// only what still applies that day, and the full guide goes by email for
// two weeks.
func TestLateEnrollmentSafeStart(t *testing.T) {
	t.Parallel()
	for lang, p := range embeddedProtocols(t) {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			testLateEnrollmentSafeStart(t, lang, p)
		})
	}
}

func testLateEnrollmentSafeStart(t *testing.T, lang string, p *Protocol) {
	ny := mustLoc(t, "America/New_York")
	treated := local(t, ny, "2026-11-24 10:00") // a Tuesday
	tests := []struct {
		name        string
		late        time.Duration
		firstAt     string   // local send time of the first text
		say, unsaid []string // in the first text, and not in it
		guide       bool     // the full-guide email is scheduled
	}{
		{"on time", 5 * time.Minute, "11-24 10:05", []string{"Hi Maya, redness and swelling are normal", "Your care guide is in your email"}, []string{"since your"}, true},
		{"12.5 hours late", 12*time.Hour + 30*time.Minute, "11-24 22:30", nil, nil, true}, // quiet hours: see below
		{"30 hours late", 30 * time.Hour, "11-25 16:00", []string{"since your Tue 24 Nov treatment", "still no makeup", "ibuprofen or ice"}, nil, true},
		{"5 days late", 5 * 24 * time.Hour, "11-29 10:00", []string{"since your Tue 24 Nov treatment", "before Tue 1 Dec"}, []string{"makeup", "today"}, true},
		{"20 days late", 20 * 24 * time.Hour, "12-14 10:00", []string{"since your Tue 24 Nov treatment", "4-6 weeks after your last session"}, []string{"makeup", "today", "ibuprofen"}, false},
		{"60 days late", 60 * 24 * time.Hour, "01-23 10:00", []string{"since your Tue 24 Nov treatment"}, []string{"makeup"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := treated.Add(tc.late)
			in := input("America/New_York", treated)
			msgs, err := p.Plan(in, Options{}, now)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p, in, QuietHours{}, now, msgs)
			first := firstText(t, msgs)
			want := tc.firstAt
			if tc.name == "12.5 hours late" {
				want = "11-25 08:00" // 22:30 is in quiet hours
			}
			if got := first.SendAt.In(ny).Format("01-02 15:04"); got != want {
				t.Errorf("first text at %s, want %s", got, want)
			}
			for _, w := range append(append([]string{in.Clinic.Phone, p.OptOutNotice}, redFlagWords[lang]...), sayAll(t, lang, tc.say)...) {
				if !strings.Contains(first.Body, w) {
					t.Errorf("first text (%s) lacks %q: %q", first.Step, w, first.Body)
				}
			}
			for _, w := range sayAll(t, lang, tc.unsaid) {
				if strings.Contains(first.Body, w) {
					t.Errorf("first text (%s) says %q, which no longer applies: %q", first.Step, w, first.Body)
				}
			}
			if tc.late > time.Hour && first.Step != "late_start" {
				t.Errorf("first text is %s, want the late start", first.Step)
			}
			guide := find(t, msgs, "welcome", 0, aftercare.Email)
			if (guide.Status == aftercare.StatusScheduled) != tc.guide {
				t.Errorf("guide email %s %s, want scheduled = %v", guide.Status, guide.Reason, tc.guide)
			}
			if tc.guide && strings.Contains(guide.Body, say(t, lang, "may already be behind you")) != (tc.late > 24*time.Hour) {
				t.Errorf("guide email late note wrong for %s late:\n%s", tc.late, guide.Body)
			}
			// No texts repeat the red flags the same day.
			perDay := map[string]int{}
			for _, m := range msgs {
				if s, _ := p.Step(m.Step); s.RedFlags && m.Channel == aftercare.SMS && m.Status == aftercare.StatusScheduled {
					perDay[m.SendAt.In(ny).Format("01-02")]++
				}
			}
			for day, n := range perDay {
				if n > 1 {
					t.Errorf("%d red-flag texts on %s", n, day)
				}
			}
		})
	}
}

// A late start also covers a welcome that quiet hours push past its window,
// and a patient who cannot get texts gets no late text (it is skipped, with
// the reason), only the guide email.
func TestLateStartEdges(t *testing.T) {
	t.Parallel()
	for lang, p := range embeddedProtocols(t) {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			testLateStartEdges(t, lang, p)
		})
	}
}

func testLateStartEdges(t *testing.T, lang string, p *Protocol) {
	ny := mustLoc(t, "America/New_York")
	treated := local(t, ny, "2026-06-09 09:30")
	now := local(t, ny, "2026-06-09 21:10") // welcome still fresh until 21:30, but quiet from 21:00
	in := input("America/New_York", treated)
	msgs, err := p.Plan(in, Options{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if first := firstText(t, msgs); first.Step != "late_start" || !strings.Contains(first.Body, say(t, lang, "since your Tue 9 Jun treatment: still no makeup")) {
		t.Errorf("first text %s: %q", first.Step, first.Body)
	}

	in.SMSConsent = false
	msgs, err = p.Plan(in, Options{}, treated.Add(30*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if m := find(t, msgs, "late_start", 0, aftercare.SMS); m.Status != aftercare.StatusSkipped || m.Reason != "no sms consent" {
		t.Errorf("late start for a patient without sms consent: %s %q", m.Status, m.Reason)
	}
	if m := find(t, msgs, "welcome", 0, aftercare.Email); m.Status != aftercare.StatusScheduled {
		t.Errorf("guide email %s %q", m.Status, m.Reason)
	}

	// On time, there is no late start at all.
	msgs, err = p.Plan(input("America/New_York", treated), Options{}, treated)
	if err != nil {
		t.Fatal(err)
	}
	if has(msgs, "late_start") {
		t.Error("late_start planned for an on-time enrollment")
	}
}

// A patient who consented to texts only gets each of the guide's essentials
// by text, whenever on the treatment day they are enrolled.
func TestTextsOnlyPatientGetsEssentials(t *testing.T) {
	t.Parallel()
	for lang, p := range embeddedProtocols(t) {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			testTextsOnlyPatientGetsEssentials(t, lang, p)
		})
	}
}

func testTextsOnlyPatientGetsEssentials(t *testing.T, lang string, p *Protocol) {
	ny := mustLoc(t, "America/New_York")
	essentials := []struct{ fact, words string }{
		{"cool water only for the first 24 h", "cool water only"},
		{"no makeup for 24-48 h", "no makeup"},
		{"makeup again after 48 h", "makeup again now"},
		{"no sweating", "sweat"},
		{"no pools days 1-3", "pools"},
		{"no saunas days 1-3", "saunas"},
		{"no steam days 1-3", "steam rooms"},
		{"no ibuprofen", "ibuprofen"},
		{"no icing", " ice"},
		{"hyaluronic acid is fine", "Hyaluronic acid serum and moisturizer help"},
		{"no alcohol for a week", "alcohol"},
		{"no fragrance for a week", "fragrance"},
		{"no exfoliants for a week", "no scrubs"},
		{"back to routine at week 2", "two weeks on, your usual skincare"},
		{"results 4-6 weeks after the last session", "4-6 weeks after the last session"},
		{"red flags", "pain that won't ease"},
		{"daily sunscreen", "Sunscreen, day 1 of 14"},
	}
	for _, tc := range []struct {
		name, treated string
		session       int
		extra         []struct{ fact, words string }
	}{
		{"morning treatment", "2026-06-09 10:00", 1, nil},
		{"evening treatment (no evening care)", "2026-06-09 19:30", 1, nil},
		{"last session", "2026-06-09 10:00", 3, []struct{ fact, words string }{{"maintenance every 6-12 months", "maintenance session every 6-12 months"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			treated := local(t, ny, tc.treated)
			in := input("America/New_York", treated)
			in.EmailConsent = false
			in.Enrollment.SessionNumber = tc.session
			msgs, err := p.Plan(in, Options{}, treated.Add(5*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			var texts strings.Builder
			for _, m := range msgs {
				if m.Channel == aftercare.SMS && m.Status == aftercare.StatusScheduled {
					texts.WriteString(m.Body + "\n")
				}
			}
			for _, e := range append(essentials, tc.extra...) {
				if w := say(t, lang, e.words); !strings.Contains(texts.String(), w) {
					t.Errorf("no text says %s (%q)", e.fact, w)
				}
			}
			if strings.Contains(texts.String(), say(t, lang, "lukewarm")) {
				t.Error("a text says lukewarm: the guide says cool water for the first day")
			}
		})
	}

	// A patient who gets the emails is not texted the same thing twice.
	in := input("America/New_York", local(t, ny, "2026-06-09 10:00"))
	in.Enrollment.SessionNumber = 3
	msgs, err := p.Plan(in, Options{}, in.Enrollment.TreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"back_to_routine", "maintenance"} {
		for _, m := range msgs {
			if m.Step == step && m.Channel == aftercare.SMS {
				t.Errorf("%s texted to a patient who gets it by email", step)
			}
		}
	}
}

// Wording that must be true on any day a message can go out.
func TestWordingTrueWhenSentLate(t *testing.T) {
	t.Parallel()
	for lang, p := range embeddedProtocols(t) {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			testWordingTrueWhenSentLate(t, lang, p)
		})
	}
}

func testWordingTrueWhenSentLate(t *testing.T, lang string, p *Protocol) {
	d := longData()
	w := func(phrase string) string { t.Helper(); return say(t, lang, phrase) }
	render := func(step string, ch aftercare.Channel) string {
		t.Helper()
		c, err := p.Render(step, ch, d)
		if err != nil {
			t.Fatal(err)
		}
		return c.Text + c.HTML
	}
	// last_call: the 4-6 week window ends on day 42; the text says it has
	// been 6 weeks, and is stale before a seventh week is under way.
	if s, _ := p.Step("last_call"); s.stale.n > 45 {
		t.Errorf("last_call stale %q: it must not go out a week after the window", s.Stale)
	}
	if txt := render("last_call", aftercare.SMS); strings.Contains(txt, w("closing")) || !strings.Contains(txt, w("6 weeks since your session on Wed 30 Sep")) {
		t.Errorf("last_call = %q", txt)
	}
	// book_next may go out until day 35: no "it's four weeks".
	if txt := render("book_next", aftercare.Email); strings.Contains(strings.ToLower(txt), w("four weeks since")) || strings.Contains(txt, w("4 weeks since")) {
		t.Errorf("book_next email claims a time since treatment that may be false: %q", txt)
	}
	// Day 14: the glow is not in the future.
	for _, step := range []string{"back_to_routine", "welcome"} {
		if txt := render(step, aftercare.Email); strings.Contains(txt, w("within 1 to 2 weeks")) || strings.Contains(txt, w("glow shows")) {
			t.Errorf("%s email promises a future glow: %q", step, txt)
		}
	}
	// makeup_ok: exercise again, but pools, saunas, steam and hot yoga later.
	if txt := render("makeup_ok", aftercare.SMS); !strings.Contains(txt, w("pools, saunas, steam rooms and hot yoga until Sun 4 Oct")) {
		t.Errorf("makeup_ok = %q", txt)
	}
	if txt := render("evening_care", aftercare.SMS); strings.Contains(txt, w("lukewarm")) || !strings.Contains(txt, w("cool water")) {
		t.Errorf("evening_care = %q", txt)
	}
	// The late start says only what applies on its day.
	for day, want := range map[int]string{
		0: "cool water only today", 1: "still no makeup", 2: "makeup OK after 48h", 3: "before Sun 4 Oct",
		5: "before Wed 7 Oct", 9: "actives can return one at a time", 30: "results show 4-6 weeks after your last session",
	} {
		d.DaysSince = day
		txt := render("late_start", aftercare.SMS)
		if !strings.Contains(txt, w(want)) {
			t.Errorf("late_start day %d = %q, want %q", day, txt, w(want))
		}
		if day >= 4 && strings.Contains(txt, w("makeup")) {
			t.Errorf("late_start day %d mentions makeup: %q", day, txt)
		}
	}
}

func TestNormalizeSMS(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, out string }{
		{"O\u2019Brien\u2019s Skin", "O'Brien's Skin"},
		{"\u201cquoted\u201d \u2018single\u2019", `"quoted" 'single'`},
		{"a \u2013 b \u2014 c", "a - b - c"},
		{"wait\u2026", "wait..."},
		{"no\u00a0break\u202fnarrow\u2009thin", "no break narrow thin"},
		{"soft\u00adhyphen zero\u200bwidth", "softhyphen zerowidth"},
		{"  many   spaces\there  ", "many spaces here"},
		{"Zo\u00eb", "Zo\u00eb"},                     // a letter is kept as written
		{"\u0417\u043e\u044f", "\u0417\u043e\u044f"}, // so is another script
		{"line\nbreak", "line\nbreak"},
	}
	for _, tc := range tests {
		if got := NormalizeSMS(tc.in); got != tc.out {
			t.Errorf("NormalizeSMS(%q) = %q, want %q", tc.in, got, tc.out)
		}
	}
}

// A typographic apostrophe in the clinic's name does not turn the plan
// into UCS-2; a patient's name outside GSM-7 is kept as written, and only
// then do texts go as UCS-2.
func TestPlanTextsStayGSM(t *testing.T) {
	t.Parallel()
	for lang, p := range embeddedProtocols(t) {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			testPlanTextsStayGSM(t, lang, p)
		})
	}
}

func testPlanTextsStayGSM(t *testing.T, lang string, p *Protocol) {
	treated := time.Date(2026, 6, 9, 14, 0, 0, 0, time.UTC)
	in := input("America/New_York", treated)
	in.Clinic.Name = "O\u2019Brien\u2019s Skin \u2013 Laser\u00a0& Aesthetics Studio" // 40 characters
	in.Patient.FirstName = "Maximiliana-Josefina"
	msgs, err := p.Plan(in, Options{}, treated)
	if err != nil {
		t.Fatal(err)
	}
	texts, segments := 0, 0
	for _, m := range msgs {
		if m.Channel != aftercare.SMS {
			continue
		}
		n, unicode := Segments(m.Body)
		if unicode || n > 2 {
			t.Errorf("%s/%d: %d segments, unicode %v: %q", m.Step, m.Occurrence, n, unicode, m.Body)
		}
		if !strings.HasPrefix(m.Body, "O'Brien's Skin - Laser & Aesthetics Studio:") {
			t.Errorf("%s: clinic name not normalised: %q", m.Step, m.Body)
		}
		texts++
		segments += n
	}
	if texts < 20 || segments > 2*texts {
		t.Errorf("%d texts in %d segments", texts, segments)
	}

	in.Patient.FirstName = "Zo\u00eb"
	msgs, err = p.Plan(in, Options{}, treated)
	if err != nil {
		t.Fatal(err)
	}
	w := find(t, msgs, "welcome", 0, aftercare.SMS)
	if n, unicode := Segments(w.Body); !strings.Contains(w.Body, say(t, lang, "Hi Zoë,")) || !unicode {
		t.Errorf("welcome for Zo\u00eb: %d segments, unicode %v: %q", n, unicode, w.Body)
	}
}
