package protocol

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
)

// A question step asks the patient how they are healing ("Reply 1 if ...,
// 2 if ..., 3 if ..."). Each answer has a meaning, a text answering it
// and, optionally, one follow-up question the next morning. A red_flag
// answer takes the red-flag path (concern, staff alert, the protocol's
// red_flag_answer), so it has no text of its own.
//
//	question:
//	  window: "24h"            answers after it are ordinary replies
//	  answers:
//	    "1": {meaning: healing, reply: "..."}
//	    "2":
//	      meaning: not_healing
//	      reply: "..."
//	      follow_up:           the next morning at 09:00 local
//	        at: "09:00"
//	        window: "24h"
//	        sms: "..."
//	        answers: ...       optional: the question's answers, without follow-ups
//	    "3": {meaning: red_flag}

// Meaning is what a check-in answer says about the patient's healing.
type Meaning string

// Meanings of check-in answers.
const (
	Healing    Meaning = "healing"
	NotHealing Meaning = "not_healing"
	RedFlag    Meaning = "red_flag"
)

// Valid reports whether m is a known meaning.
func (m Meaning) Valid() bool { return m == Healing || m == NotHealing || m == RedFlag }

// AnswerKeys are the answers a question may offer, in order.
var AnswerKeys = []string{"1", "2", "3"}

// FollowUpSuffix ends the outbox step of a question's follow-up
// ("day1_checkin_follow_up").
const FollowUpSuffix = "_follow_up"

// maxQuestionWindow bounds how long a question stays open.
const maxQuestionWindow = 7 * 24 * time.Hour

// Question is the question a step's text asks.
type Question struct {
	// Window is how long after the text was sent an answer counts.
	Window time.Duration
	// Answers are keyed "1", "2", "3".
	Answers map[string]Answer
}

// Answer is one answer a question offers.
type Answer struct {
	Meaning Meaning
	// Reply is the text answering it (text/template); empty for a
	// red_flag answer, which the red-flag path answers.
	Reply string
	// FollowUp, if set, is asked the next morning.
	FollowUp *FollowUp

	reply *templates
}

// FollowUp is a question sent the morning after an answer.
type FollowUp struct {
	// At is the local time of the next morning it goes out ("09:00"),
	// moved out of quiet hours.
	At string
	// SMS is its text (text/template).
	SMS      string
	Question Question

	at   int // minutes after midnight
	tmpl *templates
}

// Ask is a question a text put to the patient: a question step's, or
// the follow-up of one of its answers.
type Ask struct {
	// Step is the outbox step of the text that asked it.
	Step string
	// Question is the question step's key.
	Question string
	Window   time.Duration
	Answers  map[string]Answer
	// FollowUp marks the follow-up question.
	FollowUp bool
}

type questionYAML struct {
	Window  string                `yaml:"window"`
	Answers map[string]answerYAML `yaml:"answers"`
}

type answerYAML struct {
	Meaning  string        `yaml:"meaning"`
	Reply    string        `yaml:"reply"`
	FollowUp *followUpYAML `yaml:"follow_up"`
}

type followUpYAML struct {
	At      string                `yaml:"at"`
	Window  string                `yaml:"window"`
	SMS     string                `yaml:"sms"`
	Answers map[string]answerYAML `yaml:"answers"`
}

// buildQuestion validates a step's question and reports every problem
// at once.
func buildQuestion(raw *questionYAML, s *Step, sms string, layout *htmltemplate.Template) (*Question, error) {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if !slices.Contains(s.Channels, aftercare.SMS) {
		add("question: needs the sms channel (the patient answers by text)")
	}
	if strings.HasSuffix(s.Key, FollowUpSuffix) {
		add("question: a question step's key must not end in %q", FollowUpSuffix)
	}
	q := &Question{}
	qProbs := compileQuestion(raw.Window, raw.Answers, sms, layout, true, q)
	for _, p := range qProbs {
		add("question: %s", p)
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "; "))
	}
	return q, nil
}

// compileQuestion fills q from its YAML and returns its problems. A
// follow-up (top false) may not have follow-ups of its own; with no
// answers it takes inherit's.
func compileQuestion(window string, answers map[string]answerYAML, sms string, layout *htmltemplate.Template, top bool, q *Question) []string {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(window) == "" {
		add("window: missing (how long answers count, such as \"24h\")")
	} else if d, err := duration(strings.TrimSpace(window)); err != nil {
		add("window: %v", err)
	} else if d <= 0 || d > maxQuestionWindow {
		add("window: must be more than 0 and at most %s, not %s", "168h", window)
	} else {
		q.Window = d
	}
	if len(answers) == 0 {
		add("answers: missing (\"1\", \"2\" and \"3\")")
	}
	q.Answers = map[string]Answer{}
	redFlag := false
	keys := make([]string, 0, len(answers))
	for k := range answers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		raw := answers[k]
		name := "answers: " + fmt.Sprintf("%q", k)
		if !slices.Contains(AnswerKeys, k) {
			add("%s: unknown answer (want \"1\", \"2\" or \"3\")", name)
			continue
		}
		if !strings.Contains(sms, k) {
			add("%s: the question's text never mentions %s", name, k)
		}
		a := Answer{Meaning: Meaning(strings.TrimSpace(raw.Meaning)), Reply: strings.TrimSpace(raw.Reply)}
		switch {
		case a.Meaning == "":
			add("%s: meaning: missing (healing, not_healing or red_flag)", name)
		case !a.Meaning.Valid():
			add("%s: meaning: %q is not healing, not_healing or red_flag", name, raw.Meaning)
		}
		if a.Meaning == RedFlag {
			redFlag = true
			if a.Reply != "" {
				add("%s: reply: a red_flag answer takes the red-flag path (the red_flag_answer reply); leave reply out", name)
			}
			if raw.FollowUp != nil {
				add("%s: follow_up: a red_flag answer takes the red-flag path; staff follow up", name)
			}
		} else if a.Reply == "" && a.Meaning.Valid() {
			add("%s: reply: missing", name)
		}
		if a.Reply != "" && a.Meaning != RedFlag {
			ts, err := compile(a.Reply, nil, layout)
			if err == nil {
				err = try(ts, samples())
			}
			if err != nil {
				add("%s: reply: %v", name, strings.TrimPrefix(err.Error(), "sms: "))
			}
			a.reply = ts
		}
		if raw.FollowUp != nil && a.Meaning != RedFlag {
			if !top {
				add("%s: follow_up: a follow-up question has no follow-up of its own", name)
			} else {
				f, fp := compileFollowUp(raw.FollowUp, answers, layout)
				for _, p := range fp {
					add("%s: follow_up: %s", name, p)
				}
				a.FollowUp = f
			}
		}
		q.Answers[k] = a
	}
	if len(answers) > 0 && !redFlag {
		add("answers: no red_flag answer: a question must offer one that takes the red-flag path")
	}
	return probs
}

// compileFollowUp builds a follow-up question; without answers of its own
// it takes its question's, minus their follow-ups.
func compileFollowUp(raw *followUpYAML, parent map[string]answerYAML, layout *htmltemplate.Template) (*FollowUp, []string) {
	var probs []string
	f := &FollowUp{At: strings.TrimSpace(raw.At), SMS: strings.TrimSpace(raw.SMS)}
	if f.At == "" {
		probs = append(probs, `at: missing (a local time, such as "09:00")`)
	} else if m, err := parseClock(f.At); err != nil {
		probs = append(probs, fmt.Sprintf("at: %v", err))
	} else {
		f.at = m
	}
	if f.SMS == "" {
		probs = append(probs, "sms: missing")
	} else {
		ts, err := compile(f.SMS, nil, layout)
		if err == nil {
			err = try(ts, samples())
		}
		if err != nil {
			probs = append(probs, fmt.Sprintf("sms: %v", strings.TrimPrefix(err.Error(), "sms: ")))
		}
		f.tmpl = ts
	}
	answers := raw.Answers
	if len(answers) == 0 {
		answers = make(map[string]answerYAML, len(parent))
		for k, a := range parent {
			a.FollowUp = nil
			answers[k] = a
		}
	}
	probs = append(probs, compileQuestion(raw.Window, answers, f.SMS, layout, false, &f.Question)...)
	return f, probs
}

// Asks returns every question the protocol's texts ask, by outbox step:
// the question steps' and their follow-ups'.
func (p *Protocol) Asks() map[string]Ask {
	out := map[string]Ask{}
	for _, s := range p.steps {
		if s.Question == nil {
			continue
		}
		out[s.Key] = Ask{Step: s.Key, Question: s.Key, Window: s.Question.Window, Answers: s.Question.Answers}
		for _, a := range s.Question.Answers {
			if a.FollowUp != nil {
				k := s.Key + FollowUpSuffix
				out[k] = Ask{Step: k, Question: s.Key, Window: a.FollowUp.Question.Window, Answers: a.FollowUp.Question.Answers, FollowUp: true}
			}
		}
	}
	return out
}

// Ask returns the question the text of an outbox step asked.
func (p *Protocol) Ask(step string) (Ask, bool) {
	a, ok := p.Asks()[step]
	return a, ok
}

// Render renders the text answering a check-in answer.
func (a Answer) Render(lang string, d Data) (string, error) {
	if a.reply == nil {
		return "", fmt.Errorf("render answer: a %s answer has no text", a.Meaning)
	}
	d.setLanguage(lang)
	c, err := a.reply.render(aftercare.SMS, d)
	if err != nil {
		return "", fmt.Errorf("render answer: %w", err)
	}
	return c.Text, nil
}

// Render renders the follow-up question's text.
func (f *FollowUp) Render(lang string, d Data) (string, error) {
	d.setLanguage(lang)
	c, err := f.tmpl.render(aftercare.SMS, d)
	if err != nil {
		return "", fmt.Errorf("render follow-up: %w", err)
	}
	return c.Text, nil
}

// SendAt is when the follow-up goes out after an answer at t: At on the
// next local day in loc, moved out of quiet hours (a time that does not
// exist that day moves forward to the first valid minute).
func (f *FollowUp) SendAt(t time.Time, loc *time.Location, quiet QuietHours) time.Time {
	if quiet == (QuietHours{}) {
		quiet = DefaultQuietHours
	}
	y, m, d := t.In(loc).Date()
	at := wallTime(y, m, d+1, f.at/60, f.at%60, 0, loc)
	return quiet.Next(at).UTC()
}

// reDigitAnswer matches a bare answer digit: "2", " 2 ", "2.", "2!".
var reDigitAnswer = regexp.MustCompile(`^\s*([1-9])\s*[.!]?\s*$`)

// AnswerDigit returns the answer a reply gives when it is only a digit
// (with at most a full stop or an exclamation mark); anything else is
// free text.
func AnswerDigit(body string) (string, bool) {
	m := reDigitAnswer.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// DayNumber is the day after the treatment (0 for the treatment day) on
// which t falls in the patient's zone (the clinic's when the patient has
// none, else UTC).
func DayNumber(in Input, t time.Time) int {
	loc, err := location(in)
	if err != nil {
		loc = time.UTC
	}
	return dayNumber(clock{treated: in.Enrollment.TreatedAt.In(loc), loc: loc}, t)
}

// Location is the patient's zone (the clinic's when the patient has
// none), UTC when neither is known.
func Location(in Input) *time.Location {
	loc, err := location(in)
	if err != nil {
		return time.UTC
	}
	return loc
}

// question measures a question step's answer texts and follow-up like any
// text: GSM-7, at most two segments with the longest names. Answers are
// never capped (they answer the patient's own text).
func (l *linter) question(s *Step, variants []Data) {
	if s.Question == nil {
		return
	}
	var check func(prefix string, q *Question)
	check = func(prefix string, q *Question) {
		for _, k := range AnswerKeys {
			a, ok := q.Answers[k]
			if !ok {
				continue
			}
			field := fmt.Sprintf("%s.answers.%s", prefix, k)
			if a.reply != nil {
				texts, err := renderAll(a.reply, variants)
				if err != nil {
					l.add(SeverityError, l.stepLine(s.Key, field+".reply"), s.Key, field+".reply", "%s", explainTemplate(err.Error()))
				} else {
					l.segments(s.Key, field+".reply", texts, "")
				}
			}
			if f := a.FollowUp; f != nil && f.tmpl != nil {
				texts, err := renderAll(f.tmpl, variants)
				if err != nil {
					l.add(SeverityError, l.stepLine(s.Key, field+".follow_up.sms"), s.Key, field+".follow_up.sms", "%s", explainTemplate(err.Error()))
				} else {
					l.segments(s.Key, field+".follow_up.sms", texts, "")
				}
				check(field+".follow_up", &f.Question)
			}
		}
	}
	check("question", s.Question)
}
