// Package protocol holds aftercare protocols: what to tell a patient after a
// treatment, on which channel, and when. A protocol is a YAML document (the
// default microneedling protocol is embedded as default.yaml); Parse loads
// and validates one, and Plan turns an enrollment into the outbox messages
// for it. Planning is pure: no I/O, no clock — the caller passes now.
package protocol

import (
	"bytes"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/aftercare/aftercare"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the source of the default protocol, for operators who
// want a starting point for their own.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Protocol is a loaded, validated aftercare protocol. It is immutable and
// safe for concurrent use.
type Protocol struct {
	// Name identifies the protocol, such as "microneedling".
	Name string
	// Version is the protocol's own revision number.
	Version int
	// Treatment is the treatment the protocol is for, as enrollments name
	// it ("microneedling"); it defaults to Name.
	Treatment string
	// Language is the language of the protocol's texts ("en", "es"); it
	// defaults to "en".
	Language string
	// OptOutNotice ends the first text of each enrollment ("Reply STOP to
	// opt out.").
	OptOutNotice string

	steps   []Step
	index   map[string]int
	replies map[ReplyKind]*templates
	volume  volumeOnce
	phases  []Phase
}

// Step is one message of a protocol, possibly on several channels and, for
// a daily step, on several days.
type Step struct {
	// Key names the step in the outbox ("welcome", "sunscreen").
	Key string
	// Title is a short label for clinic staff; defaults to Key.
	Title string
	// Channels are the channels the step goes out on, in order.
	Channels []aftercare.Channel
	// At and Stale are the timings as written in the protocol.
	At, Stale string
	// When holds the conditions for planning the step at all.
	When Conditions
	// Calendar asks for an .ics invitation on the step's email (see
	// Protocol.Invitation).
	Calendar bool
	// Booking marks a reminder to book the next session: a booking
	// system's "appointment booked" cancels the patient's pending ones and
	// "appointment cancelled" brings them back (see package booking).
	Booking bool
	// EmailStale, when set, is the stale time of the step's email, which
	// may outlive its text (the full guide is worth sending days after a
	// "today" text is not).
	EmailStale string
	// RedFlags marks a step whose text names the red flags and the
	// clinic's phone. The first text of every plan must be one: when it
	// would not be, the enrollment is late and the protocol's late steps
	// are planned.
	RedFlags bool
	// SMSFallback sends the step's text only to a patient this
	// enrollment's email cannot reach; a patient who gets the email is not
	// texted the same thing.
	SMSFallback bool
	// Priority ranks the step's text when a day would exceed the clinic's
	// cap (1-100, default 50): the lowest goes first. A red_flags text is
	// never capped.
	Priority int
	// Merge is a short line (text/template) that can join another text the
	// same day when this step's own text is over the cap ("Sunscreen again
	// this morning."); without one, a capped text is skipped.
	Merge string
	// Question, if set, makes the step's text a check-in question whose
	// answers branch (see Question).
	Question *Question

	at, stale, emailStale timing
	tmpl                  *templates
	merge                 *templates
}

// Daily reports whether the step recurs once a day; its messages carry the
// day number as their occurrence.
func (s Step) Daily() bool { return s.at.kind == daily }

// Conditions restrict when a step is planned. A step whose conditions do
// not hold is left out of the plan altogether (it is not relevant to this
// enrollment), unlike a step that cannot be delivered, which is planned as
// skipped with a reason.
type Conditions struct {
	// EnrolledBefore ("18:00"): plan the step only if the patient is
	// enrolled before this local time on the treatment day. An enrollment
	// made ahead of the treatment counts from the treatment instant.
	EnrolledBefore string `yaml:"enrolled_before"`
	// Series is "finished" (this was the last session of the series),
	// "unfinished", or empty for any.
	Series string `yaml:"series"`
	// Late: plan the step only for a late enrollment, one whose first text
	// would otherwise not name the red flags (the welcome's window has
	// closed, or quiet hours push it past). A late step goes out at
	// enrollment (out of quiet hours), before any other text, and must
	// have red_flags: true.
	Late bool `yaml:"late"`

	enrolledBefore int // minutes after midnight; -1 for none
}

// Series conditions.
const (
	SeriesFinished   = "finished"
	SeriesUnfinished = "unfinished"
)

// ReplyKind names a reply template: texts sent in answer to a patient's
// message rather than on a schedule.
type ReplyKind string

// The reply templates every protocol must have.
const (
	// ReplyHelp answers HELP with the clinic's name and phone.
	ReplyHelp ReplyKind = "help"
	// ReplyRedFlagAck answers a patient whose reply looks like a red flag.
	ReplyRedFlagAck ReplyKind = "red_flag_ack"
	// ReplyRedFlagAlert tells clinic staff about that reply (SMS and email).
	ReplyRedFlagAlert ReplyKind = "red_flag_alert"
	// ReplyOptedIn confirms a START.
	ReplyOptedIn ReplyKind = "opted_in"
)

// ReplyKinds lists the reply templates every protocol must have, in a
// fixed order.
var ReplyKinds = []ReplyKind{ReplyHelp, ReplyRedFlagAck, ReplyRedFlagAlert, ReplyOptedIn}

// Reply templates a protocol may leave out: the built-in wording (the same
// as the embedded default protocol's) is used then.
const (
	// ReplyRedFlagAnswer answers a red flag with the clinic's phone and,
	// when it has one, its after-hours number.
	ReplyRedFlagAnswer ReplyKind = "red_flag_answer"
	// ReplyEmergency answers a reply that may be an emergency: call 911
	// first, then the clinic.
	ReplyEmergency ReplyKind = "emergency_answer"
	// ReplyQuestion answers an ordinary reply (at most once a day): this
	// number is not watched around the clock; the clinic's phone and the
	// red flags.
	ReplyQuestion ReplyKind = "question_answer"
	// ReplyOptedOut confirms an opt-out (the one text the FCC rule allows).
	ReplyOptedOut ReplyKind = "opted_out"
	// ReplyConcernAlert tells clinic staff about a concern: every text of
	// it, which sign matched which words, and whether it is a repeat.
	ReplyConcernAlert ReplyKind = "concern_alert"
)

// builtinReplies are the embedded protocols' optional reply templates, by
// language, used by protocols in that language that leave them out (a
// Spanish file without emergency_answer answers in Spanish).
var builtinReplies = func() map[string]map[ReplyKind]*replyYAML {
	out := map[string]map[ReplyKind]*replyYAML{}
	for _, src := range [][]byte{defaultYAML, defaultESYAML} {
		var doc document
		if err := yaml.Unmarshal(src, &doc); err != nil {
			panic("protocol: embedded protocol: " + err.Error())
		}
		lang := cmp.Or(strings.TrimSpace(doc.Language), "en")
		out[lang] = map[ReplyKind]*replyYAML{
			ReplyRedFlagAnswer: doc.Replies.RedFlagAnswer,
			ReplyEmergency:     doc.Replies.Emergency,
			ReplyQuestion:      doc.Replies.Question,
			ReplyOptedOut:      doc.Replies.OptedOut,
			ReplyConcernAlert:  doc.Replies.ConcernAlert,
		}
	}
	return out
}()

// OptionalReplyKinds lists the reply templates a protocol may leave out.
var OptionalReplyKinds = []ReplyKind{ReplyRedFlagAnswer, ReplyEmergency, ReplyQuestion, ReplyOptedOut, ReplyConcernAlert}

// EmailTemplate is the email of a step: subject and plain text are
// text/template, HTML is html/template (rendered inside the protocol's
// email_layout).
type EmailTemplate struct {
	Subject string `yaml:"subject"`
	Text    string `yaml:"text"`
	HTML    string `yaml:"html"`
}

// The YAML document. Every struct is decoded with KnownFields, so a
// misspelt key is an error rather than a silently ignored setting.
type document struct {
	Name         string      `yaml:"name"`
	Version      int         `yaml:"version"`
	Treatment    string      `yaml:"treatment"`
	Language     string      `yaml:"language"`
	OptOutNotice string      `yaml:"opt_out_notice"`
	EmailLayout  string      `yaml:"email_layout"`
	Steps        []stepYAML  `yaml:"steps"`
	Replies      repliesYAML `yaml:"replies"`
	Phases       []phaseYAML `yaml:"phases"`
}

type stepYAML struct {
	Key      string         `yaml:"key"`
	Title    string         `yaml:"title"`
	At       string         `yaml:"at"`
	Stale    string         `yaml:"stale"`
	Channels []string       `yaml:"channels"`
	When     Conditions     `yaml:"when"`
	Calendar bool           `yaml:"calendar"`
	Booking  bool           `yaml:"booking"`
	SMS      string         `yaml:"sms"`
	Email    *EmailTemplate `yaml:"email"`

	EmailStale  string `yaml:"email_stale"`
	RedFlags    bool   `yaml:"red_flags"`
	SMSFallback bool   `yaml:"sms_fallback"`
	Priority    *int   `yaml:"priority"`
	Merge       string `yaml:"merge"`

	Question *questionYAML `yaml:"question"`
}

type replyYAML struct {
	SMS   string         `yaml:"sms"`
	Email *EmailTemplate `yaml:"email"`
}

type repliesYAML struct {
	Help         *replyYAML `yaml:"help"`
	RedFlagAck   *replyYAML `yaml:"red_flag_ack"`
	RedFlagAlert *replyYAML `yaml:"red_flag_alert"`
	OptedIn      *replyYAML `yaml:"opted_in"`

	RedFlagAnswer *replyYAML `yaml:"red_flag_answer"`
	Emergency     *replyYAML `yaml:"emergency_answer"`
	Question      *replyYAML `yaml:"question_answer"`
	OptedOut      *replyYAML `yaml:"opted_out"`
	ConcernAlert  *replyYAML `yaml:"concern_alert"`
}

// Default returns the embedded default microneedling protocol.
func Default() (*Protocol, error) {
	p, err := Parse(defaultYAML)
	if err != nil {
		return nil, fmt.Errorf("default protocol: %w", err)
	}
	return p, nil
}

// Load reads and parses a protocol file.
func Load(path string) (*Protocol, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load protocol: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load protocol %s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and validates a protocol. Errors name the step and field,
// such as `step "dryness": stale: ...` or `step 3: key: missing` (steps are
// counted from 1).
func Parse(data []byte) (*Protocol, error) {
	var doc document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty protocol")
		}
		return nil, explain(data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	return build(doc)
}

// reYAMLError splits one of yaml's unmarshal errors: its line, and the
// unknown key when that is the complaint.
var reYAMLError = regexp.MustCompile(`^line (\d+): (?:field (\S+) not found in type \S+|(.*))$`)

// explain rewrites yaml's unmarshal errors to name the step and field they
// are about (`step "a": when: unknown key "rain" (line 9)`) rather than Go
// types. Other errors (syntax) pass through.
func explain(data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		m := reYAMLError.FindStringSubmatch(e)
		if m == nil {
			msgs = append(msgs, e)
			continue
		}
		line, _ := strconv.Atoi(m[1])
		if m[2] != "" {
			path, _ := locate(&root, nil, line, m[2])
			msg := fmt.Sprintf("unknown key %q (line %d)", m[2], line)
			if len(path) > 1 {
				msg = strings.Join(path[:len(path)-1], ": ") + ": " + msg
			}
			msgs = append(msgs, msg)
			continue
		}
		path, ok := locate(&root, nil, line, "")
		if !ok {
			msgs = append(msgs, e)
			continue
		}
		msgs = append(msgs, fmt.Sprintf("%s: %s (line %d)", strings.Join(path, ": "), m[3], line))
	}
	return errors.New(strings.Join(msgs, "; "))
}

// locate finds the mapping key at line (named key, or any when key is
// empty) and returns its path: `step "a"`, "when", "rain".
func locate(n *yaml.Node, path []string, line int, key string) ([]string, bool) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p, ok := locate(c, path, line, key); ok {
				return p, true
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			here := append(slices.Clip(path), k.Value)
			if k.Line == line && (key == "" || k.Value == key) {
				return here, true
			}
			if p, ok := locate(v, here, line, key); ok {
				return p, true
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			label := strconv.Itoa(i + 1)
			if len(path) == 1 && path[0] == "steps" {
				label = fmt.Sprintf("step %d", i+1)
				if k := mapValue(c, "key"); k != "" {
					label = fmt.Sprintf("step %q", k)
				}
				if p, ok := locate(c, []string{label}, line, key); ok {
					return p, true
				}
				continue
			}
			if p, ok := locate(c, append(slices.Clip(path), label), line, key); ok {
				return p, true
			}
		}
	}
	return nil, false
}

// mapValue returns the scalar value of key in a mapping node.
func mapValue(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return strings.TrimSpace(n.Content[i+1].Value)
		}
	}
	return ""
}

func build(doc document) (*Protocol, error) {
	p := &Protocol{
		Name:         strings.TrimSpace(doc.Name),
		Version:      doc.Version,
		Treatment:    NormalizeTreatment(doc.Treatment),
		Language:     strings.TrimSpace(doc.Language),
		OptOutNotice: strings.TrimSpace(doc.OptOutNotice),
		index:        make(map[string]int),
		replies:      make(map[ReplyKind]*templates),
	}
	if p.Name == "" {
		return nil, errors.New("name: missing")
	}
	if p.Version < 1 {
		return nil, fmt.Errorf("version: must be 1 or more, not %d", doc.Version)
	}
	if p.Treatment == "" {
		p.Treatment = NormalizeTreatment(p.Name)
	}
	if !validTreatment(p.Treatment) {
		return nil, fmt.Errorf("treatment: %q must be lower-case letters, digits, spaces and hyphens, at most 60", p.Treatment)
	}
	if p.Language == "" {
		p.Language = "en"
	}
	if !aftercare.ValidLanguage(p.Language) {
		return nil, fmt.Errorf("language: %q is not one of %s", p.Language, strings.Join(aftercare.Languages, ", "))
	}
	layoutSrc := doc.EmailLayout
	if strings.TrimSpace(layoutSrc) == "" {
		layoutSrc = defaultLayout
	}
	if !strings.Contains(layoutSrc, `template "content"`) {
		return nil, errors.New(`email_layout: must include {{template "content" .}}`)
	}
	layout, err := htmltemplate.New("layout").Funcs(funcs).Parse(layoutSrc)
	if err != nil {
		return nil, fmt.Errorf("email_layout: %w", err)
	}
	if len(doc.Steps) == 0 {
		return nil, errors.New("steps: missing")
	}
	for i, raw := range doc.Steps {
		s, err := buildStep(raw, layout)
		if err != nil {
			if raw.Key = strings.TrimSpace(raw.Key); raw.Key != "" {
				return nil, fmt.Errorf("step %q: %w", raw.Key, err)
			}
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		if _, dup := p.index[s.Key]; dup {
			return nil, fmt.Errorf("step %q: key: used by more than one step", s.Key)
		}
		p.index[s.Key] = len(p.steps)
		p.steps = append(p.steps, s)
	}
	for _, s := range p.steps {
		if s.Question != nil {
			if _, dup := p.index[s.Key+FollowUpSuffix]; dup {
				return nil, fmt.Errorf("step %q: key: the outbox step of step %q's follow-up question", s.Key+FollowUpSuffix, s.Key)
			}
		}
	}
	replies := map[ReplyKind]*replyYAML{
		ReplyHelp:         doc.Replies.Help,
		ReplyRedFlagAck:   doc.Replies.RedFlagAck,
		ReplyRedFlagAlert: doc.Replies.RedFlagAlert,
		ReplyOptedIn:      doc.Replies.OptedIn,

		ReplyRedFlagAnswer: doc.Replies.RedFlagAnswer,
		ReplyEmergency:     doc.Replies.Emergency,
		ReplyQuestion:      doc.Replies.Question,
		ReplyOptedOut:      doc.Replies.OptedOut,
		ReplyConcernAlert:  doc.Replies.ConcernAlert,
	}
	for _, kind := range append(slices.Clone(ReplyKinds), OptionalReplyKinds...) {
		r := replies[kind]
		if r == nil && slices.Contains(OptionalReplyKinds, kind) {
			r = builtinReplies[p.Language][kind]
		}
		if r == nil || strings.TrimSpace(r.SMS) == "" {
			return nil, fmt.Errorf("replies: %s: sms: missing", kind)
		}
		if (kind == ReplyRedFlagAlert || kind == ReplyConcernAlert) && r.Email == nil {
			return nil, fmt.Errorf("replies: %s: email: missing", kind)
		}
		ts, err := compile(r.SMS, r.Email, layout)
		if err != nil {
			return nil, fmt.Errorf("replies: %s: %w", kind, err)
		}
		if err := try(ts, samples()); err != nil {
			return nil, fmt.Errorf("replies: %s: %w", kind, err)
		}
		p.replies[kind] = ts
	}
	if strings.ContainsAny(p.OptOutNotice, "\r\n") || len(p.OptOutNotice) > maxOptOutNotice {
		return nil, fmt.Errorf("opt_out_notice: must be one line of at most %d characters", maxOptOutNotice)
	}
	if p.OptOutNotice != "" && !strings.Contains(strings.ToUpper(p.OptOutNotice), "STOP") {
		// The notice must tell the patient how to opt out (carriers
		// require it), e.g. "Reply STOP to opt out."
		return nil, fmt.Errorf("opt_out_notice: must say how to opt out (the word STOP), got %q", p.OptOutNotice)
	}
	if p.phases, err = buildPhases(doc.Phases); err != nil {
		return nil, err
	}
	return p, nil
}

// DefaultPriority is a step's priority when the protocol gives none.
const DefaultPriority = 50

// maxMergeLine keeps a merged line short: it joins a text already written.
const maxMergeLine = 120

// maxOptOutNotice keeps the notice from pushing texts into another segment.
const maxOptOutNotice = 60

func buildStep(raw stepYAML, layout *htmltemplate.Template) (Step, error) {
	s := Step{
		Key:      strings.TrimSpace(raw.Key),
		Title:    strings.TrimSpace(raw.Title),
		At:       raw.At,
		Stale:    raw.Stale,
		When:     raw.When,
		Calendar: raw.Calendar,
		Booking:  raw.Booking,

		EmailStale:  raw.EmailStale,
		RedFlags:    raw.RedFlags,
		SMSFallback: raw.SMSFallback,
		Priority:    DefaultPriority,
		Merge:       strings.TrimSpace(raw.Merge),
	}
	if raw.Priority != nil {
		s.Priority = *raw.Priority
	}
	if s.Key == "" {
		return s, errors.New("key: missing")
	}
	if !validKey(s.Key) {
		return s, fmt.Errorf("key: %q must be lower-case letters, digits and underscores", s.Key)
	}
	if s.Title == "" {
		s.Title = s.Key
	}
	var err error
	if s.at, err = parseAt(raw.At); err != nil {
		return s, fmt.Errorf("at: %w", err)
	}
	if s.stale, err = parseStale(raw.Stale); err != nil {
		return s, fmt.Errorf("stale: %w", err)
	}
	if err = checkOrder(s.at, s.stale); err != nil {
		return s, fmt.Errorf("stale: %w", err)
	}
	if len(raw.Channels) == 0 {
		return s, errors.New("channels: missing")
	}
	seen := map[aftercare.Channel]bool{}
	for _, c := range raw.Channels {
		ch := aftercare.Channel(strings.TrimSpace(c))
		if !ch.Valid() {
			return s, fmt.Errorf("channels: unknown channel %q (want sms or email)", c)
		}
		if seen[ch] {
			return s, fmt.Errorf("channels: %s listed twice", ch)
		}
		seen[ch] = true
		s.Channels = append(s.Channels, ch)
	}
	switch {
	case seen[aftercare.SMS] && strings.TrimSpace(raw.SMS) == "":
		return s, errors.New("sms: missing (the step goes out by sms)")
	case !seen[aftercare.SMS] && raw.SMS != "":
		return s, errors.New("sms: given, but sms is not in channels")
	case seen[aftercare.Email] && raw.Email == nil:
		return s, errors.New("email: missing (the step goes out by email)")
	case !seen[aftercare.Email] && raw.Email != nil:
		return s, errors.New("email: given, but email is not in channels")
	case s.Calendar && !seen[aftercare.Email]:
		return s, errors.New("calendar: needs the email channel")
	case s.RedFlags && !seen[aftercare.SMS]:
		return s, errors.New("red_flags: needs the sms channel")
	case s.When.Late && !s.RedFlags:
		return s, errors.New("when: late: the step must have red_flags: true (it is the first text of a late enrollment)")
	case s.When.Late && (s.at.kind != offset || s.at.d != 0):
		return s, errors.New(`when: late: the step must be due at enrollment (at: "0h")`)
	case s.SMSFallback && (!seen[aftercare.SMS] || !seen[aftercare.Email]):
		return s, errors.New("sms_fallback: needs both the sms and the email channel")
	case s.SMSFallback && s.RedFlags:
		return s, errors.New("sms_fallback: a red_flags text goes to everyone")
	}
	if strings.TrimSpace(raw.EmailStale) != "" {
		if !seen[aftercare.Email] {
			return s, errors.New("email_stale: needs the email channel")
		}
		if s.emailStale, err = parseStale(raw.EmailStale); err != nil {
			return s, fmt.Errorf("email_stale: %w", err)
		}
		if err = checkOrder(s.at, s.emailStale); err != nil {
			return s, fmt.Errorf("email_stale: %w", err)
		}
	} else {
		s.emailStale = s.stale
	}
	if err = s.When.compile(); err != nil {
		return s, fmt.Errorf("when: %w", err)
	}
	if s.Priority < 1 || s.Priority > 100 {
		return s, fmt.Errorf("priority: must be between 1 and 100, not %d", s.Priority)
	}
	if s.Merge != "" {
		switch {
		case !seen[aftercare.SMS]:
			return s, errors.New("merge: needs the sms channel")
		case s.RedFlags:
			return s, errors.New("merge: a red_flags text is never capped, so it never merges")
		case len(s.Merge) > maxMergeLine:
			return s, fmt.Errorf("merge: must be at most %d characters", maxMergeLine)
		}
		if s.merge, err = compile(s.Merge, nil, layout); err != nil {
			return s, fmt.Errorf("merge: %w", err)
		}
		if err = try(s.merge, samples()); err != nil {
			return s, fmt.Errorf("merge: %w", err)
		}
	}
	if s.tmpl, err = compile(raw.SMS, raw.Email, layout); err != nil {
		return s, err
	}
	if err = try(s.tmpl, samples()); err != nil {
		return s, err
	}
	if raw.Question != nil {
		if s.Question, err = buildQuestion(raw.Question, &s, raw.SMS, layout); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (c *Conditions) compile() error {
	c.enrolledBefore = -1
	if strings.TrimSpace(c.EnrolledBefore) != "" {
		m, err := parseClock(c.EnrolledBefore)
		if err != nil {
			return fmt.Errorf("enrolled_before: %w", err)
		}
		c.enrolledBefore = m
	}
	switch c.Series {
	case "", SeriesFinished, SeriesUnfinished:
		return nil
	}
	return fmt.Errorf("series: %q is not %q or %q", c.Series, SeriesFinished, SeriesUnfinished)
}

func validKey(k string) bool {
	if len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// try executes every template against each sample, so a template that
// parses but fails at run time (a misspelt field) is caught at load.
func try(ts *templates, samples []Data) error {
	if ts == nil {
		return errors.New("cannot compile")
	}
	for _, d := range samples {
		for _, ch := range []aftercare.Channel{aftercare.SMS, aftercare.Email} {
			if ch == aftercare.SMS && ts.sms == nil || ch == aftercare.Email && ts.subject == nil {
				continue
			}
			if _, err := ts.render(ch, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// samples are the data templates are tried against at load: a series in
// progress with a booking link, and a finished one with neither link nor
// email.
func samples() []Data {
	a := Data{
		FirstName: "Alex", PatientName: "Alex Doe", PatientPhone: "+14155550100",
		ClinicName: "Sample Clinic", ClinicPhone: "+14155550123", BookingURL: "https://clinic.example/book",
		SessionNumber: 1, SeriesLength: 3, NextSession: 2, TreatedDate: "Monday, March 9", Day: 1,
		TreatedDay: "Mon 9 Mar", EmailOK: true, Reply: "my face is very swollen",
		treatedOn:       civilDate{2026, 3, 9},
		AfterHoursPhone: "+14155550124", Signs: `swelling: "very swollen"`, Emergency: true, Alert: 2, ReplyCount: 2,
	}
	b := a
	b.BookingURL, b.SessionNumber, b.NextSession, b.SeriesFinished, b.EmailOK, b.Day = "", 3, 0, true, false, 0
	b.DaysSince = 20
	b.AfterHoursPhone, b.Signs, b.Emergency, b.Alert, b.ReplyCount = "", "", false, 1, 1
	return []Data{a, b}
}

// Steps returns the protocol's steps in order.
func (p *Protocol) Steps() []Step {
	return append([]Step(nil), p.steps...)
}

// Step returns the step with the given key.
func (p *Protocol) Step(key string) (Step, bool) {
	i, ok := p.index[key]
	if !ok {
		return Step{}, false
	}
	return p.steps[i], true
}

// Render renders one step's message on one channel.
func (p *Protocol) Render(step string, ch aftercare.Channel, d Data) (Content, error) {
	s, ok := p.Step(step)
	if !ok {
		return Content{}, fmt.Errorf("render: unknown step %q", step)
	}
	d.setLanguage(p.Language)
	c, err := s.tmpl.render(ch, d)
	if err != nil {
		return c, fmt.Errorf("render step %q: %w", step, err)
	}
	return c, nil
}

// RenderReply renders a reply template on one channel. Only red_flag_alert
// and concern_alert have an email.
func (p *Protocol) RenderReply(kind ReplyKind, ch aftercare.Channel, d Data) (Content, error) {
	ts, ok := p.replies[kind]
	if !ok {
		return Content{}, fmt.Errorf("render reply: unknown reply %q", kind)
	}
	d.setLanguage(p.Language)
	c, err := ts.render(ch, d)
	if err != nil {
		return c, fmt.Errorf("render reply %s: %w", kind, err)
	}
	return c, nil
}

// BookingSteps returns the keys of the protocol's steps marked booking:
// true (the "book your next session" reminders).
func (p *Protocol) BookingSteps() []string {
	var out []string
	for _, s := range p.steps {
		if s.Booking {
			out = append(out, s.Key)
		}
	}
	return out
}
