package protocol

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// want is one finding a lint test expects: where, how bad, and words of
// its message.
type want struct {
	line     int
	step     string
	field    string
	severity Severity
	words    string
}

// Each broken file under testdata/lint gets exactly the findings listed,
// in file order, with their lines: every problem, not the first.
func TestLintFindings(t *testing.T) {
	t.Parallel()
	E, W := SeverityError, SeverityWarning
	tests := []struct {
		file string
		opt  LintOptions
		want []want
	}{
		{file: "ok.yaml"},
		{file: "syntax.yaml", want: []want{
			{5, "", "", E, "unexpected end of stream"},
		}},
		{file: "header.yaml", want: []want{
			{1, "", "version", E, "must be 1 or more, not 0"},
			{2, "", "language", E, `"fr" is not one of en, es`},
			{3, "", "opt_out_notice", E, "the word STOP"},
			{13, "welcome", "key", E, "used by more than one step (also step 1)"},
			{23, "", "replies.red_flag_alert.email", E, "missing"},
			{0, "", "name", E, "missing"},
		}},
		{file: "unknown.yaml", want: []want{
			{10, "welcome", "", E, `unknown key "smss"`},
			{17, "day2", "when", E, `unknown key "rain"`},
			{21, "day3", "at", E, `"day three" is not a duration`},
			{33, "day4", "email.html", E, "unknown template field .FirstNam"},
			{38, "day5", "sms", E, "unknown template field .Frist"},
			{43, "", "replies.red_flag_ack.sms", E, "unknown template field .Phone"},
		}},
		{file: "long.yaml", want: []want{
			{28, "day2", "sms", E, "takes 3 SMS segments (GSM-7, 377 characters) with a 40-character clinic name and a 20-character first name; at most 2"},
			{28, "day2", "sms", W, `shows "infection" on the patient's lock screen`},
			{39, "day3", "sms", W, `characters outside GSM-7 ("ó" "á") send the text as UCS-2: 2 segments where GSM-7 would take 1`},
			{39, "day3", "sms", W, `shows "peel" on the patient's lock screen`},
		}},
		// The clinic chose to name the treatment: health words still warn.
		{file: "long.yaml", opt: LintOptions{AllowTreatmentName: true}, want: []want{
			{28, "day2", "sms", E, "takes 3 SMS segments"},
			{28, "day2", "sms", W, `shows "infection"`},
			{39, "day3", "sms", W, "characters outside GSM-7"},
		}},
		{file: "timing.yaml", want: []want{
			{23, "night", "at", E, `"day 0 at 22:00" always falls in quiet hours (21:00-08:00): the text always waits until 08:00`},
			{24, "night", "stale", E, `"day 0 at 23:59" always comes before the text can go out`},
			{28, "late_night", "at", E, `"day 1 at 23:00" always falls in quiet hours`},
			{33, "early", "at", E, `"07:00 on days 2-4" always falls in quiet hours`},
			{34, "early", "stale", E, `"same day at 07:30" always comes before the text can go out`},
		}},
		// The clinic's own quiet hours: 22:00 and 07:00 are fine, 23:00
		// still not.
		{file: "timing.yaml", opt: LintOptions{Quiet: QuietHours{Start: 22*60 + 30, End: 7 * 60}}, want: []want{
			{28, "late_night", "at", E, "always falls in quiet hours (22:30-07:00): the text always waits until 07:00"},
		}},
		{file: "first.yaml", want: []want{
			{9, "welcome", "sms", E, "must give the clinic's phone ({{.ClinicPhone}}) in every case"},
			{9, "welcome", "sms", E, "must name the warning signs"},
			{13, "day2", "", E, "is the first text for a patient treated at 10:00 and enrolled the next day at 12:00, texts only, but it does not name the red flags"},
			{0, "", "opt_out_notice", E, "missing: the first text must say how to opt out"},
		}},
		{file: "cap.yaml", want: []want{
			{4, "", "steps", W, "day 1 has 3 texts (sunscreen 08:30, morning 09:00, noon 12:00) for a patient treated at 10:00, texts and email, session 1 of 3; the clinic's cap is 2 a day"},
			{4, "", "steps", W, "day 1 has 3 texts (late_start 12:00, morning 12:00, noon 12:00)"},
		}},
		{file: "cap.yaml", opt: LintOptions{DailyCap: 3}},
		{file: "cap.yaml", opt: LintOptions{DailyCap: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", "lint", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := Lint(tt.file, data, tt.opt)
			for i := 0; i < max(len(got), len(tt.want)); i++ {
				switch {
				case i >= len(got):
					t.Errorf("missing finding %+v", tt.want[i])
				case i >= len(tt.want):
					t.Errorf("unexpected finding %s", got[i])
				default:
					g, w := got[i], tt.want[i]
					if g.File != tt.file || g.Line != w.line || g.Step != w.step || g.Field != w.field || g.Severity != w.severity || !strings.Contains(g.Message, w.words) {
						t.Errorf("finding %d:\n got %s (%s)\nwant line %d step %q field %q %s %q", i, g, g.Severity, w.line, w.step, w.field, w.severity, w.words)
					}
				}
			}
			_, perr := Parse(data)
			if perr != nil && !HasErrors(got) {
				t.Errorf("Parse refuses the file (%v) but Lint finds no error", perr)
			}
		})
	}
}

func TestFindingString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    Finding
		want string
	}{
		{Finding{File: "peel.yaml", Line: 42, Step: "day1", Field: "sms", Severity: SeverityError, Message: "takes 3 SMS segments"},
			`peel.yaml:42: step "day1": sms: takes 3 SMS segments`},
		{Finding{File: "peel.yaml", Line: 7, Step: "3", Field: "at", Severity: SeverityError, Message: "missing"},
			`peel.yaml:7: step 3: at: missing`},
		{Finding{File: "peel.yaml", Field: "name", Severity: SeverityError, Message: "missing"},
			`peel.yaml: name: missing`},
		{Finding{File: "peel.yaml", Line: 4, Field: "steps", Severity: SeverityWarning, Message: "day 1 has 3 texts"},
			`peel.yaml:4: warning: steps: day 1 has 3 texts`},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// The protocols the daemon ships lint without errors, with the default
// options, and their only warnings are
// the ones the default protocol knowingly keeps.
func TestEmbeddedProtocolsLintClean(t *testing.T) {
	t.Parallel()
	srcs := EmbeddedSources()
	if len(srcs) == 0 {
		t.Fatal("no embedded protocols")
	}
	for _, src := range srcs {
		if !strings.HasPrefix(src.Name, "embedded:") {
			t.Errorf("embedded protocol named %q", src.Name)
		}
		for _, f := range Lint(src.Name, src.Data, LintOptions{}) {
			if f.Severity == SeverityError {
				t.Errorf("%s", f)
				continue
			}
			// The six-month reminder names the treatment: a patient who
			// finished a series months ago has no other way to tell what
			// it is about.
			if !(f.Step == "maintenance" && strings.Contains(f.Message, "lock screen")) {
				t.Errorf("unexpected warning: %s", f)
			}
		}
		for _, f := range Lint(src.Name, src.Data, LintOptions{AllowTreatmentName: true}) {
			t.Errorf("with the treatment name allowed: %s", f)
		}
	}
}

// A clinic whose cap is one text a day hears which days of the default
// plan go over it, and the first text's check holds whatever the cap.
func TestLintDailyCapOnDefault(t *testing.T) {
	t.Parallel()
	src := DefaultYAML()
	got := Lint("default.yaml", src, LintOptions{DailyCap: 1, AllowTreatmentName: true})
	if len(got) == 0 {
		t.Fatal("no findings with a cap of 1")
	}
	for _, f := range got {
		if f.Severity != SeverityWarning || f.Field != "steps" || !strings.Contains(f.Message, "the clinic's cap is 1 a day") || f.Line == 0 {
			t.Errorf("unexpected finding %s", f)
		}
	}
	if !strings.Contains(got[0].Message, "day 0 has 2 texts (welcome 10:00, evening_care 20:00) for a patient treated at 10:00") {
		t.Errorf("first finding %s", got[0])
	}
}

// Lint never panics, never passes a file Parse refuses, and names the
// file in every finding.
func FuzzLint(f *testing.F) {
	f.Add(defaultYAML)
	files, _ := filepath.Glob(filepath.Join("testdata", "lint", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [x, x, x]\nb: &b [*a, *a, *a]\nname: *b\n"))
	f.Add([]byte("steps: ["))
	f.Add([]byte("name: t\n---\nname: u\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := Lint("f.yaml", data, LintOptions{})
		if _, err := Parse(data); err != nil && !HasErrors(got) {
			t.Fatalf("Parse: %v; Lint: %v", err, got)
		}
		for _, fd := range got {
			if fd.File != "f.yaml" || fd.Message == "" || (fd.Severity != SeverityError && fd.Severity != SeverityWarning) {
				t.Fatalf("bad finding %#v", fd)
			}
		}
	})
}

// Lint is cheap enough to run on every load and upload.
func BenchmarkLintDefault(b *testing.B) {
	for b.Loop() {
		Lint("default.yaml", defaultYAML, LintOptions{})
	}
}
