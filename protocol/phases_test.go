package protocol

import (
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
)

func TestPhaseOnSaysTodaysAdvice(t *testing.T) {
	t.Parallel()
	ny := mustLoc(t, "America/New_York")
	treated := time.Date(2026, 6, 9, 16, 30, 0, 0, ny)
	in := Input{Enrollment: aftercare.Enrollment{TreatedAt: treated, SessionNumber: 1, SeriesLength: 3},
		Patient: aftercare.Patient{FirstName: "Maya", Timezone: "America/New_York"}, Clinic: aftercare.Clinic{Name: "Glow", Phone: "+14155550123"}}
	tests := []struct {
		p         *Protocol
		day       int
		title     string
		mentioned string
	}{
		{setup(t), 0, "Today, your treatment day", "No makeup until 4:30 pm on Thu 11 Jun."},
		{setup(t), 2, "Day 2: no makeup until 4:30 pm", "until Sat 13 Jun"},
		{setup(t), 5, "Day 5: dryness and light flaking are normal", "Avoid long periods"},
		{setup(t), 30, "Day 30: back to your routine", "daily sunscreen"},
		{setupES(t), 2, "Día 2: sin maquillaje hasta las 16:30", "hasta el sab 13 jun"},
	}
	for _, tc := range tests {
		got, ok, err := tc.p.PhaseOn(tc.day, NewData(in))
		if err != nil || !ok {
			t.Fatalf("%s day %d: %v %v", tc.p.Language, tc.day, ok, err)
		}
		all := strings.Join(append(append([]string{got.Title}, got.Do...), got.Dont...), "\n")
		if got.Title != tc.title || !strings.Contains(all, tc.mentioned) {
			t.Errorf("%s day %d: title %q, want %q; %q not in\n%s", tc.p.Language, tc.day, got.Title, tc.title, tc.mentioned, all)
		}
	}
	if _, ok, _ := setup(t).PhaseOn(400, NewData(in)); ok {
		t.Error("day 400 has advice")
	}
}

func TestPhasesInEveryLanguageMatch(t *testing.T) {
	t.Parallel()
	en, es := setup(t).Phases(), setupES(t).Phases()
	if len(en) == 0 || len(en) != len(es) {
		t.Fatalf("%d en phases, %d es", len(en), len(es))
	}
	for i := range en {
		if en[i].From != es[i].From || en[i].To != es[i].To || len(en[i].do) != len(es[i].do) || len(en[i].dont) != len(es[i].dont) {
			t.Errorf("phase %d: en days %d-%d (%d do, %d dont), es days %d-%d (%d do, %d dont)", i, en[i].From, en[i].To,
				len(en[i].do), len(en[i].dont), es[i].From, es[i].To, len(es[i].do), len(es[i].dont))
		}
	}
}

func TestPhasesAreValidated(t *testing.T) {
	t.Parallel()
	base := string(DefaultYAML())
	base = base[:strings.Index(base, "\nphases:")]
	tests := []struct{ name, phases, want string }{
		{"overlap", "phases:\n  - {from: 0, to: 2, title: a, do: [x]}\n  - {from: 2, to: 3, title: b, do: [y]}\n", "overlaps"},
		{"backwards", "phases:\n  - {from: 3, to: 1, title: a, do: [x]}\n", "from must be"},
		{"empty", "phases:\n  - {from: 0, to: 1, title: a}\n", "at least one"},
		{"no title", "phases:\n  - {from: 0, to: 1, do: [x]}\n", "title: empty"},
		{"bad template", "phases:\n  - {from: 0, to: 1, title: a, do: ['{{.Nope}}']}\n", "do[0]"},
		{"unknown key", "phases:\n  - {from: 0, to: 1, title: a, do: [x], rain: 1}\n", "rain"},
		{"too long", "phases:\n  - {from: 0, to: 1, title: a, do: [" + strings.Repeat("x", 161) + "]}\n", "at most 160"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(base + "\n" + tc.phases))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Parse([]byte(base)); err != nil {
		t.Errorf("without phases: %v", err)
	}
}

func TestCareURLMakesBookingARedirect(t *testing.T) {
	t.Parallel()
	in := input("America/New_York", time.Date(2026, 6, 9, 16, 30, 0, 0, time.UTC))
	if d := NewData(in); d.CareURL != "" || d.BookingURL != "https://glow.example/book" {
		t.Errorf("without a care link: %q %q", d.CareURL, d.BookingURL)
	}
	in.CareURL = "https://care.example/c/tok"
	if d := NewData(in); d.CareURL != in.CareURL || d.BookingURL != "https://care.example/c/tok/book" {
		t.Errorf("with a care link: %q %q", d.CareURL, d.BookingURL)
	}
	in.Clinic.BookingURL = ""
	if d := NewData(in); d.BookingURL != "" {
		t.Errorf("no clinic booking link: %q", d.BookingURL)
	}
}
