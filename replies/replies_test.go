package replies

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body      string
		kind      Kind
		sign      string // one sign that must be found, for red flags
		emergency bool
		optOut    bool
	}{
		{"STOP", Stop, "", false, true},
		{" stop ", Stop, "", false, true},
		{"Stop.", Stop, "", false, true},
		{"StopAll", Stop, "", false, true},
		{"UNSUBSCRIBE", Stop, "", false, true},
		{"cancel", Stop, "", false, true},
		{"End", Stop, "", false, true},
		{"quit", Stop, "", false, true},
		{"ALTO", Stop, "", false, true},
		{"PARAR", Stop, "", false, true},
		{"Arrêt", Stop, "", false, true},
		{"stop texting me please", Stop, "", false, true},
		{"please stop texting me", Stop, "", false, true},
		{"no more messages", Stop, "", false, true},
		{"don't text me", Stop, "", false, true},
		{"remove me from this list", Stop, "", false, true},
		{"START", Start, "", false, false},
		{"unstop", Start, "", false, false},
		{"Yes", Start, "", false, false},
		{"help", Help, "", false, false},
		{"HELP!", Help, "", false, false},
		{"ayuda", Help, "", false, false},
		// A red flag wins, and a stop said with it is still honoured.
		{"stop texting me, my face is full of pus", RedFlag, SignPus, false, true},
		{"please stop texting me about the swelling", RedFlag, SignSwelling, false, true},
		{"the bleeding won't stop", RedFlag, SignBleeding, false, false},
		{"help, my face is swollen and hot", RedFlag, SignHeat, false, false},
		// Issue 9's misses.
		{"it hurts", RedFlag, SignPain, false, false},
		{"my face is burning", RedFlag, SignPain, false, false},
		{"hot to the touch and red streaks", RedFlag, SignRedStreaks, false, false},
		{"hot to the touch and red streaks", RedFlag, SignHeat, false, false},
		{"crusty yellow scabs", RedFlag, SignPus, false, false},
		{"itchy bumps all over", RedFlag, SignRash, false, false},
		{"I feel faint", RedFlag, SignFainting, true, false},
		{"hinchazón", RedFlag, SignSwelling, false, false},
		{"me duele mucho", RedFlag, SignPain, false, false},
		// Emergencies.
		{"my lips are swelling up", RedFlag, SignThroat, true, false},
		{"no puedo respirar", RedFlag, SignBreathing, true, false},
		{"me desmayé", RedFlag, SignFainting, true, false},
		{"stop texting me I can't breathe", RedFlag, SignBreathing, true, true},
		// Typos and SMS spelling.
		{"sweling around my eyes", RedFlag, SignSwelling, false, false},
		{"bleding", RedFlag, SignBleeding, false, false},
		{"fevr since last night", RedFlag, SignFever, false, false},
		{"cant breath", RedFlag, SignBreathing, true, false},
		{"infecton?", RedFlag, SignInfection, false, false},
		{"Unsubscrbe", Stop, "", false, true},
		{"HINCHAZON", RedFlag, SignSwelling, false, false},
		// Negation, resolution and mild healing.
		{"no fever, all good thanks", Other, "", false, false},
		{"no pus", Other, "", false, false},
		{"not swollen anymore", Other, "", false, false},
		{"the swelling went down", Other, "", false, false},
		{"sin fiebre", Other, "", false, false},
		{"ya no está hinchado", Other, "", false, false},
		{"no fever but it hurts", RedFlag, SignPain, false, false},
		{"it won't stop bleeding", RedFlag, SignBleeding, false, false},
		{"the swelling hasn't gone down", RedFlag, SignSwelling, false, false},
		{"el dolor no se quita", RedFlag, SignPain, false, false},
		{"no para de sangrar", RedFlag, SignBleeding, false, false},
		{"not sure if it's infected", RedFlag, SignInfection, false, false},
		{"a bit swollen", Other, "", false, false},
		{"a bit swollen but getting worse", RedFlag, SignSwelling, false, false},
		{"a little sore", Other, "", false, false},
		{"feels like a mild sunburn", Other, "", false, false},
		{"it feels like a sunburn but worse", RedFlag, SignPain, false, false},
		{"is it normal to be red on day 2?", Other, "", false, false},
		{"can I use retinol tomorrow?", Other, "", false, false},
		// Keywords that are words inside a sentence.
		{"can I stop using the serum?", Other, "", false, false},
		{"when can I stop wearing sunscreen", Other, "", false, false},
		{"stop by tomorrow?", Other, "", false, false},
		{"please don't stop texting me, this is helpful", Other, "", false, false},
		{"I need to cancel my appointment", Other, "", false, false},
		{"la hinchazón ya baja", Other, "", false, false},
		{"no its swollen", RedFlag, SignSwelling, false, false},
		{"I've never been this swollen", RedFlag, SignSwelling, false, false},
		{"I never get fevers", Other, "", false, false},
		{"", Other, "", false, false},
		{"Is it normal that my skin feels dry and tight?", Other, "", false, false},
	}
	for _, tt := range tests {
		got := Classify(tt.body)
		if got.Kind != tt.kind || got.Emergency != tt.emergency || got.OptOut != tt.optOut {
			t.Errorf("Classify(%q) = %s emergency=%v opt_out=%v (%s), want %s emergency=%v opt_out=%v",
				tt.body, got.Kind, got.Emergency, got.OptOut, got.Explain(), tt.kind, tt.emergency, tt.optOut)
			continue
		}
		if tt.sign != "" && !slices.Contains(got.Signs, tt.sign) {
			t.Errorf("Classify(%q) signs = %v, want %q among them", tt.body, got.Signs, tt.sign)
		}
	}
}

// TestExplain: the alert says which sign matched which of the patient's
// words, and what was read but not counted.
func TestExplain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want []string
	}{
		{"stop texting me, my face is full of pus", []string{`pus or discharge: "pus"`, `opt-out: "stop texting"`}},
		{"No fever, but my face is BURNING", []string{`pain or burning: "BURNING"`, `not counted, negated: fever or chills: "fever"`}},
		{"Hinchazón y me arde", []string{`swelling: "Hinchazón"`, `pain or burning: "arde"`}},
		{"hot to the touch", []string{`hot to the touch: "hot to the touch"`}},
		{"the swelling went down", []string{`not counted, resolved: swelling: "swelling"`}},
		{"a bit puffy", []string{`not counted, mild: swelling: "puffy"`}},
		{"what if I get a fever?", []string{`not counted, hypothetical: fever or chills: "fever"`}},
	}
	for _, tt := range tests {
		got := Classify(tt.body).Explain()
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("Classify(%q).Explain() = %q, want it to contain %q", tt.body, got, w)
			}
		}
	}
}

// TestTypoDoesNotEatEverydayWords: typo tolerance never turns an everyday
// word into a sign ("never" is not "fever", "painting" is not "fainting").
func TestTypoDoesNotEatEverydayWords(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"I never had any problem", "can I paint my nails?", "the serum gives me a nice glow",
		"my skin is turning back to normal", "keeping it clean like you said", "I was painting all day",
		"can I get my next injection at the same visit?", "the smelling salts", "I'm selling my old serum",
		"it lives up to the hype", "fewer lines than before, thanks", "spelling is hard lol",
		"my brother is breeding dogs", "trust me I'm following the rules", "I'll be sweeping the floor",
		"is the colour normal?", "¿suele pasar esto?", "qué color de protector?", "the streams are nice",
		"sleeping on my back", "turns out I forgot my sunscreen", "dwelling on it", "simple routine",
		"can I go to the ceiling fan store", "shallow breaths are fine thanks",
	} {
		if got := Classify(body); got.Kind != Other {
			t.Errorf("Classify(%q) = %s (%s), want other", body, got.Kind, got.Explain())
		}
	}
}

// TestNotOptOuts: everyday sentences that share words with opt-out
// requests never opt the patient out (an unwanted opt-out silences their
// aftercare).
func TestNotOptOuts(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		"how do I take my makeup off?", "I don't want these scabs", "please do not call me, text instead",
		"should I stop the serum and text you later?", "should I stop the retinol and email you?",
		"cancel my appointment and text me the new time", "can I remove my contact lenses?",
		"no me duele, mi mamá me manda saludos", "no quiero recibir el tratamiento otra vez",
		"can I stop using the serum?", "when can I stop wearing sunscreen", "stop by tomorrow?",
		"I need to cancel my appointment", "la hinchazón ya baja", "the bleeding won't stop",
		"please don't stop texting me", "I don't want to unsubscribe", "what happens if I reply STOP?",
		"I stopped the retinol like you said", "para qué sirve el suero?", "at the end of the week",
	} {
		if got := Classify(body); got.OptOut {
			t.Errorf("Classify(%q) opts out (%s)", body, got.Explain())
		}
	}
}

// TestMatchesQuoteThePatient: an alert quotes the patient's own words,
// as written (case, accents), never the folded form.
func TestMatchesQuoteThePatient(t *testing.T) {
	t.Parallel()
	body := "Tengo HINCHAZÓN y me sale PUS, ¡no puedo RESPIRAR!"
	r := Classify(body)
	if !r.Emergency || r.Kind != RedFlag {
		t.Fatalf("Classify(%q) = %s emergency=%v, want an emergency red flag", body, r.Kind, r.Emergency)
	}
	want := map[string]string{SignSwelling: "HINCHAZÓN", SignPus: "PUS", SignBreathing: "no puedo RESPIRAR"}
	for _, m := range r.Matches {
		if w, ok := want[m.Sign]; ok && m.Words != w {
			t.Errorf("match %s words %q, want %q", m.Sign, m.Words, w)
		}
		delete(want, m.Sign)
	}
	if len(want) > 0 {
		t.Errorf("signs not found: %v (got %s)", want, r.Explain())
	}
	if r.Language != "es" {
		t.Errorf("language %q, want es", r.Language)
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		"my face hurts":           "en",
		"me duele la cara":        "es",
		"¿puedo usar retinol?":    "es",
		"STOP":                    "en",
		"ALTO":                    "es",
		"désabonner":              "",
		"pus":                     "",
		"👍":                       "",
		"no more messages please": "en",
	} {
		if got := Classify(body).Language; got != want {
			t.Errorf("Classify(%q).Language = %q, want %q", body, got, want)
		}
	}
}

// TestSignOrder: emergencies come first, so an alert leads with them.
func TestSignOrder(t *testing.T) {
	t.Parallel()
	r := Classify("pus and swelling, and I feel dizzy")
	if len(r.Signs) == 0 || r.Signs[0] != SignFainting {
		t.Fatalf("signs %v, want %q first", r.Signs, SignFainting)
	}
	seenOrdinary := false
	for _, sg := range signs {
		if !sg.emergency {
			seenOrdinary = true
		} else if seenOrdinary {
			t.Errorf("emergency sign %q listed after an ordinary one", sg.name)
		}
	}
}

func TestRedFlags(t *testing.T) {
	t.Parallel()
	if got := RedFlags("my face is burning and there's pus"); !reflect.DeepEqual(got, []string{SignPain, SignPus}) {
		t.Errorf("RedFlags = %v", got)
	}
	if got := RedFlags("no pus"); got != nil {
		t.Errorf("RedFlags(no pus) = %v, want none", got)
	}
}

// TestDeterministic: the same reply always gives the same result.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	for _, r := range readCorpus(t) {
		a, b := Classify(r.text), Classify(r.text)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("Classify(%q) not deterministic: %+v vs %+v", r.text, a, b)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"fever", "fever", true},
		{"fevr", "fever", true},
		{"feverr", "fever", true},
		{"fveer", "fever", true},
		{"fxvxr", "fever", false},
		{"swelling", "sweling", true},
		{"bleeding", "reading", false},
		{"hinchazón", "hinchazon", true},
		{"", "a", true},
		{"", "ab", false},
	}
	for _, tt := range tests {
		if got := editDistanceAtMost1(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistanceAtMost1(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// checkInvariants holds for every body: what FuzzClassify asserts.
func checkInvariants(t *testing.T, s string) {
	t.Helper()
	r := Classify(s)
	switch r.Kind {
	case Stop, Start, Help, RedFlag, Other:
	default:
		t.Fatalf("unknown kind %q", r.Kind)
	}
	if (r.Kind == RedFlag) != (len(r.Signs) > 0) || len(r.Signs) != len(r.Matches) {
		t.Fatalf("kind %s with signs %v and matches %v", r.Kind, r.Signs, r.Matches)
	}
	if r.Emergency && r.Kind != RedFlag {
		t.Fatalf("emergency but kind %s", r.Kind)
	}
	if r.Kind == Stop && !r.OptOut || r.OptOut && r.Kind != Stop && r.Kind != RedFlag {
		t.Fatalf("kind %s with opt_out %v", r.Kind, r.OptOut)
	}
	switch r.Language {
	case "", "en", "es":
	default:
		t.Fatalf("language %q", r.Language)
	}
	for _, m := range append(slices.Clone(r.Matches), r.NotCounted...) {
		if m.Words == "" || !strings.Contains(s, m.Words) {
			t.Fatalf("match %+v does not quote the body", m)
		}
		if utf8.ValidString(s) && !utf8.ValidString(m.Words) {
			t.Fatalf("match %+v cuts a character", m)
		}
	}
	if !reflect.DeepEqual(r, Classify(s)) {
		t.Fatalf("not deterministic")
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"STOP", "swollen and pus", "\xff\xfe", "héllo wörld", "bleeding won't stop",
		"no fever, all good thanks", "stop texting me, my face is full of pus", "no me duele... pero ya no", "38.5.5.",
		"but but but", "ＮＯ ＰＵＳ", "a\u0301 fiebre", "hot ... touch"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkInvariants(t, s)
	})
}

// TestInvariantsOnCorpus runs the fuzz invariants over every corpus reply.
func TestInvariantsOnCorpus(t *testing.T) {
	t.Parallel()
	for _, r := range readCorpus(t) {
		checkInvariants(t, r.text)
	}
}

func BenchmarkClassify(b *testing.B) {
	rows := readCorpus(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Classify(rows[i%len(rows)].text)
	}
}

// BenchmarkClassifyLong: a 1,600-character reply, the longest a
// concatenated SMS carries.
func BenchmarkClassifyLong(b *testing.B) {
	body := strings.Repeat("my face hurts a lot and it is swollen, no fever. ", 40)[:1600]
	for b.Loop() {
		Classify(body)
	}
}
