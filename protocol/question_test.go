package protocol

import (
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare/store"
)

// The default protocols ask on day 1 and day 3; answer 2 has a follow-up
// the next morning, with answers of its own; answer 3 takes the red-flag
// path.
func TestDefaultQuestions(t *testing.T) {
	t.Parallel()
	for lang, p := range embeddedProtocols(t) {
		asks := p.Asks()
		for _, step := range []string{"day1_checkin", "dryness", "day1_checkin_follow_up", "dryness_follow_up"} {
			a, ok := asks[step]
			if !ok {
				t.Fatalf("%s: %s asks nothing", lang, step)
			}
			if a.Window != 24*time.Hour || a.Answers["1"].Meaning != Healing || a.Answers["2"].Meaning != NotHealing || a.Answers["3"].Meaning != RedFlag {
				t.Errorf("%s: %s: %+v", lang, step, a)
			}
			if (a.Answers["2"].FollowUp != nil) == a.FollowUp {
				t.Errorf("%s: %s: follow-up of answer 2: %v", lang, step, a.Answers["2"].FollowUp)
			}
		}
		if len(asks) != 4 {
			t.Errorf("%s: %d questions", lang, len(asks))
		}
	}
}

func TestQuestionValidation(t *testing.T) {
	t.Parallel()
	base := string(DefaultYAML())
	day1 := base[strings.Index(base, "    question:\n      window: \"24h\"\n      answers:\n        \"1\": &checkin_healing"):]
	day1 = day1[:strings.Index(day1, "\n\n")]
	for _, tc := range []struct {
		name     string
		question string
		want     []string
	}{
		{"every problem at once", `    question:
      window: "forever"
      answers:
        "1": {meaning: great, reply: "ok"}
        "2": {meaning: not_healing}
        "4": {meaning: healing, reply: "x"}`,
			[]string{`window: time: invalid duration`, `answers: "1": meaning: "great" is not`, `answers: "2": reply: missing`,
				`answers: "4": unknown answer`, `no red_flag answer`}},
		{"red flag with its own text", `    question:
      window: "24h"
      answers:
        "1": {meaning: healing, reply: "ok"}
        "3": {meaning: red_flag, reply: "call", follow_up: {at: "09:00", window: "24h", sms: "again 1 3"}}`,
			[]string{`answers: "3": reply: a red_flag answer takes the red-flag path`, `answers: "3": follow_up: a red_flag answer`}},
		{"follow-up problems", `    question:
      window: "24h"
      answers:
        "1": {meaning: healing, reply: "ok"}
        "2":
          meaning: not_healing
          reply: "hm"
          follow_up: {at: "25:00", window: "0h", sms: "{{.Nope}} 1 2 3"}
        "3": {meaning: red_flag}`,
			[]string{`answers: "2": follow_up: at:`, `answers: "2": follow_up: sms:`, `answers: "2": follow_up: window: must be more than 0`}},
		{"window missing", `    question:
      answers:
        "1": {meaning: healing, reply: "ok"}
        "3": {meaning: red_flag}`,
			[]string{`window: missing`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(base, day1, tc.question, 1)
			src = strings.ReplaceAll(src, "*checkin_healing", "{meaning: healing, reply: ok}")
			src = strings.ReplaceAll(src, "follow_up: *checkin_follow_up", "")
			_, err := Parse([]byte(src))
			if err == nil {
				t.Fatal("parsed")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.HasPrefix(err.Error(), `step "day1_checkin": question: `) {
				t.Errorf("error does not name the step: %v", err)
			}
		})
	}
}

func TestAnswerDigit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want string
		ok   bool
	}{
		{"2", "2", true}, {" 2 ", "2", true}, {"2.", "2", true}, {"2!", "2", true}, {"3\n", "3", true},
		{"2 but itchy", "", false}, {"12", "", false}, {"two", "", false}, {"", "", false}, {"2?", "", false}, {"#2", "", false},
	} {
		got, ok := AnswerDigit(tc.body)
		if got != tc.want || ok != tc.ok {
			t.Errorf("AnswerDigit(%q) = %q, %v", tc.body, got, ok)
		}
	}
}

// The follow-up goes out the next local morning at its time, out of quiet
// hours.
func TestFollowUpSendAt(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	f := setup(t).Asks()["day1_checkin"].Answers["2"].FollowUp
	for _, tc := range []struct {
		at    time.Time
		quiet QuietHours
		want  time.Time
	}{
		{time.Date(2026, 6, 10, 9, 30, 0, 0, ny), QuietHours{}, time.Date(2026, 6, 11, 9, 0, 0, 0, ny)},
		{time.Date(2026, 6, 10, 23, 50, 0, 0, ny), QuietHours{}, time.Date(2026, 6, 11, 9, 0, 0, 0, ny)},
		{time.Date(2026, 6, 10, 10, 0, 0, 0, ny), QuietHours{Start: 21 * 60, End: 10 * 60}, time.Date(2026, 6, 11, 10, 0, 0, 0, ny)},
	} {
		if got := f.SendAt(tc.at, ny, tc.quiet); !got.Equal(tc.want) {
			t.Errorf("SendAt(%s) = %s, want %s", tc.at, got.In(ny), tc.want)
		}
	}
}

// The store leaves follow-up questions out of re-plans by this suffix.
func TestFollowUpSuffixMatchesTheStore(t *testing.T) {
	t.Parallel()
	if FollowUpSuffix != store.FollowUpStepSuffix {
		t.Fatalf("protocol %q, store %q", FollowUpSuffix, store.FollowUpStepSuffix)
	}
}

// A reply reads as an answer only when it is one digit with at most
// spaces and one full stop or exclamation mark around it.
func FuzzAnswerDigit(f *testing.F) {
	for _, s := range []string{"2", " 2 ", "2.", "2!", "2 but", "12", "", "３", "2\u00a0", "2!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		d, ok := AnswerDigit(body)
		if !ok {
			if d != "" {
				t.Fatalf("no answer, but digit %q", d)
			}
			return
		}
		if len(d) != 1 || d[0] < '1' || d[0] > '9' {
			t.Fatalf("answer %q of %q", d, body)
		}
		rest := strings.TrimSpace(strings.Replace(body, d, "", 1))
		if rest != "" && rest != "." && rest != "!" {
			t.Fatalf("%q read as %q, leaving %q", body, d, rest)
		}
	})
}
