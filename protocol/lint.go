package protocol

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/aftercare/aftercare"
)

// Severity says whether a lint finding stops a protocol from loading or
// deserves a second look.
type Severity string

// Severities of lint findings.
const (
	// SeverityError: the protocol cannot be used as written.
	SeverityError Severity = "error"
	// SeverityWarning: the protocol works, but a patient or the clinic
	// may not want it this way.
	SeverityWarning Severity = "warning"
)

// Finding is one problem Lint found in a protocol file.
type Finding struct {
	// File names the protocol file as the caller gave it.
	File string `json:"file"`
	// Line is the 1-based line in the file, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Step is the key of the step the finding is about (its number from
	// 1 when it has no key), empty for the rest of the file.
	Step string `json:"step,omitempty"`
	// Field is the path of the field within the step, or within the file
	// when Step is empty: "sms", "email.subject", "when.late",
	// "replies.help.sms", "opt_out_notice".
	Field    string   `json:"field,omitempty"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String formats f as `peel.yaml:42: step "day1": sms: message`, with
// "warning: " after the position for a warning.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Line > 0 {
		fmt.Fprintf(&b, ":%d", f.Line)
	}
	b.WriteString(": ")
	if f.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if f.Step != "" {
		if digits(f.Step) {
			fmt.Fprintf(&b, "step %s: ", f.Step)
		} else {
			fmt.Fprintf(&b, "step %q: ", f.Step)
		}
	}
	if f.Field != "" {
		b.WriteString(f.Field + ": ")
	}
	b.WriteString(f.Message)
	return b.String()
}

// LintOptions tune Lint to a clinic.
type LintOptions struct {
	// Quiet is the clinic's quiet hours; the zero value means
	// DefaultQuietHours.
	Quiet QuietHours
	// DailyCap is the clinic's most texts a day: 0 means
	// aftercare.DefaultDailyTextCap, a negative value no check.
	DailyCap int
	// AllowTreatmentName silences the warning about a text that names the
	// treatment on the patient's lock screen (the clinic chose to).
	// Health details (infection, pus, fever) outside a red-flag text
	// still warn.
	AllowTreatmentName bool
}

// maxLintSegments is the most SMS segments a text may take with the
// longest names.
const maxLintSegments = 2

// Lint checks a protocol file and reports every problem it finds rather
// than the first: what Parse refuses (as errors, with the line, step and
// field) and, when the file parses:
//
//   - every text, rendered with the longest names the daemon allows (a
//     40-character clinic name, a 20-character first name, a 40-character
//     booking URL) and with the opt-out notice on the texts that can come
//     first, fits in two SMS segments (error, with the count and the
//     encoding);
//   - characters outside GSM-7 (warning, naming them and what UCS-2 costs);
//   - a text whose send time always falls in quiet hours, or that can never
//     go out before its stale time (error);
//   - the first text names the red flags and the clinic's phone
//     ({{.ClinicPhone}}) and the protocol has an opt_out_notice (error);
//   - a scheduled text other than a red-flag one that shows the treatment
//     or health details on a lock screen (warning, "minimum necessary"; see
//     lockScreenTreatmentWords and lockScreenHealthWords);
//   - a day with more texts than the clinic's daily cap in the plans of a
//     few sample enrollments (warning, naming the day and the steps).
//
// file only names the protocol in the findings. Lint never fails: a file
// it cannot read as YAML is one error finding. Findings come in file order
// where they have a line.
func Lint(file string, data []byte, opt LintOptions) []Finding {
	l := &linter{file: file}
	p := l.parse(data)
	if p != nil {
		l.check(p, opt)
	}
	slices.SortStableFunc(l.out, func(a, b Finding) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0:
			return 1
		case b.Line == 0:
			return -1
		}
		return a.Line - b.Line
	})
	return l.out
}

// HasErrors reports whether any finding is an error.
func HasErrors(fs []Finding) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Severity == SeverityError })
}

// Source is a protocol file's name and contents.
type Source struct {
	Name string
	Data []byte
}

// EmbeddedSources returns the protocols the daemon ships, each named
// "embedded:<name>.<language>" (for lint output).
func EmbeddedSources() []Source {
	out := make([]Source, 0, len(embedded))
	for i, src := range embedded {
		var head struct {
			Name     string `yaml:"name"`
			Language string `yaml:"language"`
		}
		name := fmt.Sprintf("embedded:%d", i+1)
		if yaml.Unmarshal(src, &head) == nil && head.Name != "" {
			name = "embedded:" + head.Name + "." + cmp.Or(head.Language, "en")
		}
		out = append(out, Source{Name: name, Data: bytes.Clone(src)})
	}
	return out
}

type linter struct {
	file string
	ix   lineIndex
	out  []Finding
}

func (l *linter) add(sev Severity, line int, step, field, format string, args ...any) {
	l.out = append(l.out, Finding{File: l.file, Line: line, Step: step, Field: field, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// stepName is how findings name step i: its key, else its number.
func (l *linter) stepName(i int, key string) string {
	if key = strings.TrimSpace(key); key != "" {
		return key
	}
	return strconv.Itoa(i + 1)
}

// reSyntax splits yaml's syntax errors: "yaml: line 4: did not find...".
var reSyntax = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse decodes and validates the file as Parse does, reporting every
// problem, and returns the protocol when there is none.
func (l *linter) parse(data []byte) *Protocol {
	var doc document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		l.add(SeverityError, 0, "", "", "empty protocol")
		return nil
	}
	var root yaml.Node
	if yerr := yaml.Unmarshal(data, &root); yerr != nil {
		msg, line := yerr.Error(), 0
		if m := reSyntax.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		l.add(SeverityError, line, "", "", "%s", strings.TrimPrefix(msg, "yaml: "))
		return nil
	}
	l.ix = indexLines(&root)
	badSteps := map[int]bool{}
	if err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			l.add(SeverityError, 0, "", "", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			return nil
		}
		for _, e := range te.Errors {
			l.typeError(&root, e, badSteps)
		}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		l.add(SeverityError, extra.Line, "", "", "more than one YAML document")
	}
	l.structure(doc, badSteps)
	if len(l.out) > 0 {
		return nil
	}
	p, err := build(doc)
	if err != nil {
		// Lint's own checks missed what build refuses: report it as build
		// words it, so Lint never passes a file Parse refuses.
		step, field, msg := splitBuildError(err.Error())
		l.add(SeverityError, l.ix.line(l.ix.stepIndex(step), field), step, field, "%s", msg)
		return nil
	}
	return p
}

// typeError turns one of yaml's unmarshal errors into a finding and marks
// the step it is in.
func (l *linter) typeError(root *yaml.Node, e string, badSteps map[int]bool) {
	m := reYAMLError.FindStringSubmatch(e)
	if m == nil {
		l.add(SeverityError, 0, "", "", "%s", e)
		return
	}
	line, _ := strconv.Atoi(m[1])
	if i := l.ix.stepAt(line); i >= 0 {
		badSteps[i] = true
	}
	path, _ := locate(root, nil, line, m[2])
	step := ""
	if len(path) > 0 && strings.HasPrefix(path[0], "step ") {
		step = strings.Trim(strings.TrimPrefix(path[0], "step "), `"`)
		path = path[1:]
	}
	if m[2] != "" {
		if len(path) > 0 {
			path = path[:len(path)-1]
		}
		l.add(SeverityError, line, step, strings.Join(path, "."), "unknown key %q", m[2])
		return
	}
	l.add(SeverityError, line, step, strings.Join(path, "."), "%s", m[3])
}

// structure checks what build checks, every step and reply rather than
// up to the first problem. Steps with a YAML type error are left out.
func (l *linter) structure(doc document, badSteps map[int]bool) {
	top := func(field, format string, args ...any) {
		l.add(SeverityError, l.ix.line(-1, field), "", field, format, args...)
	}
	if strings.TrimSpace(doc.Name) == "" {
		top("name", "missing")
	}
	if doc.Version < 1 {
		top("version", "must be 1 or more, not %d", doc.Version)
	}
	treatment := NormalizeTreatment(cmp.Or(doc.Treatment, doc.Name))
	if treatment != "" && !validTreatment(treatment) {
		top("treatment", "%q must be lower-case letters, digits, spaces and hyphens, at most 60", treatment)
	}
	if lang := strings.TrimSpace(doc.Language); lang != "" && !aftercare.ValidLanguage(lang) {
		top("language", "%q is not one of %s", lang, strings.Join(aftercare.Languages, ", "))
	}
	notice := strings.TrimSpace(doc.OptOutNotice)
	if strings.ContainsAny(notice, "\r\n") || len(notice) > maxOptOutNotice {
		top("opt_out_notice", "must be one line of at most %d characters", maxOptOutNotice)
	} else if notice != "" && !strings.Contains(strings.ToUpper(notice), "STOP") {
		top("opt_out_notice", "must say how to opt out (the word STOP), got %q", notice)
	}
	layoutSrc := doc.EmailLayout
	if strings.TrimSpace(layoutSrc) == "" {
		layoutSrc = defaultLayout
	}
	layout, err := htmltemplate.New("layout").Funcs(funcs).Parse(layoutSrc)
	switch {
	case !strings.Contains(layoutSrc, `template "content"`):
		top("email_layout", `must include {{template "content" .}}`)
		layout = nil
	case err != nil:
		top("email_layout", "%v", err)
		layout = nil
	}
	if layout == nil {
		layout = htmltemplate.Must(htmltemplate.New("layout").Parse(defaultLayout))
	}
	if len(doc.Steps) == 0 {
		top("steps", "missing")
	}
	seen := map[string]int{}
	for i, raw := range doc.Steps {
		if badSteps[i] {
			continue
		}
		name := l.stepName(i, raw.Key)
		if _, err := buildStep(raw, layout); err != nil {
			field, msg := splitField(err.Error(), stepFields)
			l.add(SeverityError, l.ix.line(i, field), name, field, "%s", explainTemplate(msg))
			continue
		}
		if j, dup := seen[name]; dup {
			l.add(SeverityError, l.ix.line(i, "key"), name, "key", "used by more than one step (also step %d)", j+1)
			continue
		}
		seen[name] = i
	}
	replies := map[ReplyKind]*replyYAML{
		ReplyHelp: doc.Replies.Help, ReplyRedFlagAck: doc.Replies.RedFlagAck,
		ReplyRedFlagAlert: doc.Replies.RedFlagAlert, ReplyOptedIn: doc.Replies.OptedIn,
		ReplyRedFlagAnswer: doc.Replies.RedFlagAnswer, ReplyEmergency: doc.Replies.Emergency,
		ReplyQuestion: doc.Replies.Question, ReplyOptedOut: doc.Replies.OptedOut,
		ReplyConcernAlert: doc.Replies.ConcernAlert,
	}
	for _, kind := range append(slices.Clone(ReplyKinds), OptionalReplyKinds...) {
		r := replies[kind]
		base := "replies." + string(kind)
		if r == nil && slices.Contains(OptionalReplyKinds, kind) {
			continue // the built-in wording, checked with the default protocol
		}
		if r == nil || strings.TrimSpace(r.SMS) == "" {
			top(base+".sms", "missing")
			continue
		}
		if (kind == ReplyRedFlagAlert || kind == ReplyConcernAlert) && r.Email == nil {
			top(base+".email", "missing")
			continue
		}
		ts, err := compile(r.SMS, r.Email, layout)
		if err == nil {
			err = try(ts, samples())
		}
		if err != nil {
			field, msg := splitField(err.Error(), replyFields)
			field = strings.TrimSuffix(base+"."+field, ".")
			l.add(SeverityError, l.ix.line(-1, field), "", field, "%s", explainTemplate(msg))
		}
	}
}

// The fields of a step and of a reply, with their sub-fields, for naming
// the field an error message starts with.
var (
	stepFields = map[string][]string{
		"key": nil, "title": nil, "at": nil, "stale": nil, "channels": nil,
		"when": {"enrolled_before", "series", "late"}, "calendar": nil, "booking": nil, "sms": nil,
		"email": {"subject", "text", "html"}, "email_stale": nil, "red_flags": nil, "sms_fallback": nil,
	}
	replyFields = map[string][]string{"sms": nil, "email": {"subject", "text", "html"}}
)

// splitField splits "email: subject: missing" into "email.subject" and
// "missing".
func splitField(msg string, fields map[string][]string) (string, string) {
	head, rest, ok := strings.Cut(msg, ": ")
	subs, known := fields[head]
	if !ok || !known {
		return "", msg
	}
	if sub, rest2, ok := strings.Cut(rest, ": "); ok && slices.Contains(subs, sub) {
		return head + "." + sub, rest2
	}
	return head, rest
}

// splitBuildError splits build's `step "a": at: ...` (or `step 3: ...`, or
// `replies: help: sms: ...`, or `name: missing`) into step, field and
// message.
func splitBuildError(msg string) (step, field, rest string) {
	if strings.HasPrefix(msg, "step ") {
		head, tail, _ := strings.Cut(strings.TrimPrefix(msg, "step "), ": ")
		field, rest = splitField(tail, stepFields)
		return strings.Trim(head, `"`), field, explainTemplate(rest)
	}
	if tail, ok := strings.CutPrefix(msg, "replies: "); ok {
		kind, tail, _ := strings.Cut(tail, ": ")
		field, rest = splitField(tail, replyFields)
		return "", strings.TrimSuffix("replies."+kind+"."+field, "."), explainTemplate(rest)
	}
	head, tail, ok := strings.Cut(msg, ": ")
	if ok && !strings.ContainsAny(head, " \"") {
		return "", head, tail
	}
	return "", "", msg
}

// reUnknownField finds a template's unknown field in an execution error.
var reUnknownField = regexp.MustCompile(`can't evaluate field (\w+) in type`)

// explainTemplate rewrites text/template's complaint about an unknown
// field as the protocol author would put it.
func explainTemplate(msg string) string {
	if m := reUnknownField.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown template field .%s (the fields are listed in the header of the default protocol)", m[1])
	}
	return msg
}

// lineIndex holds the line of every key of a protocol file.
type lineIndex struct {
	// top holds the lines of the keys outside steps, by dotted path
	// ("name", "replies.help.sms").
	top map[string]int
	// steps holds each step's line, its last line and its keys' lines.
	steps []stepLines
}

type stepLines struct {
	key         string
	first, last int
	fields      map[string]int
}

func indexLines(root *yaml.Node) lineIndex {
	ix := lineIndex{top: map[string]int{}}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return ix
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ix.top[k.Value] = k.Line
		if k.Value == "steps" && v.Kind == yaml.SequenceNode {
			for _, s := range v.Content {
				sl := stepLines{key: mapValue(s, "key"), first: s.Line, last: lastLine(s), fields: map[string]int{}}
				flatten(s, "", sl.fields)
				ix.steps = append(ix.steps, sl)
			}
			continue
		}
		flatten(v, k.Value+".", ix.top)
	}
	return ix
}

// flatten records the line of every mapping key under n by dotted path.
func flatten(n *yaml.Node, prefix string, into map[string]int) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		into[prefix+k.Value] = k.Line
		flatten(n.Content[i+1], prefix+k.Value+".", into)
	}
}

func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

// stepAt returns the index of the step whose lines include line, or -1.
func (ix lineIndex) stepAt(line int) int {
	for i, s := range ix.steps {
		if line >= s.first && line <= s.last {
			return i
		}
	}
	return -1
}

// stepIndex returns the index of the step named key (or numbered), or -1.
func (ix lineIndex) stepIndex(name string) int {
	if name == "" {
		return -1
	}
	for i, s := range ix.steps {
		if s.key == name {
			return i
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 1 && n <= len(ix.steps) {
		return n - 1
	}
	return -1
}

// line returns the line of field (a dotted path) in step i, or outside
// steps when i is -1, falling back to the nearest enclosing key.
func (ix lineIndex) line(i int, field string) int {
	fields := ix.top
	if i >= 0 && i < len(ix.steps) {
		fields = ix.steps[i].fields
	}
	for f := field; f != ""; {
		if n, ok := fields[f]; ok {
			return n
		}
		j := strings.LastIndex(f, ".")
		if j < 0 {
			break
		}
		f = f[:j]
	}
	if i >= 0 && i < len(ix.steps) {
		return ix.steps[i].first
	}
	return 0
}

// stepLine returns the line of a field of the step with key.
func (l *linter) stepLine(key, field string) int {
	return l.ix.line(l.ix.stepIndex(key), field)
}

// lintCareURL is a patient page link of the assumed longest length (60).
const lintCareURL = "https://care.riverside-aesthetic.co/c/AbCdEfGhIjKlMnOpQrStUv"

// lintData is the template data texts are measured with: the longest
// names the daemon allows.
func lintData() Data {
	return Data{
		FirstName:    "Maximiliana-Josefina",                     // 20
		PatientName:  "Maximiliana-Josefina Van Der Berg-Smith",  // staff texts
		PatientPhone: "+14155550100",                             //
		ClinicName:   "Riverside Aesthetics and Wellness Studio", // 40
		ClinicPhone:  "+14155550123",                             //
		// CareURL is the patient page link at its assumed longest: a
		// 35-character public URL, "/c/" and a 22-character token. With a
		// page link, BookingURL is the page's booking redirect (CareURL +
		// "/book", 65), longer than the clinics' own links (40).
		CareURL:         lintCareURL,           // 60
		BookingURL:      lintCareURL + "/book", // 65
		AfterHoursPhone: "+14155550124",
		SessionNumber:   1, SeriesLength: 3, NextSession: 2,
		TreatedDate: "Wednesday, September 30", TreatedDay: "Wed 30 Sep", Day: 14, EmailOK: true,
		treatedOn: civilDate{2026, 9, 30},
		Reply:     strings.Repeat("my face is really swollen and it hurts ", 5),
		Signs:     strings.Repeat(`swelling: "really swollen" `, 4),
		Alert:     1, ReplyCount: 5,
	}
}

// lintVariants are the cases a template is rendered in, so every branch
// of an {{if}} on the data is measured: each day a text may go out, with
// and without email, booking link or a series to finish, and (for replies)
// an emergency and a repeat alert.
func lintVariants() []Data {
	var out []Data
	for _, days := range []int{0, 1, 2, 3, 4, 5, 6, 7, 10, 13, 14, 20, 30, 45, 60, 183} {
		for v := range 8 {
			d := lintData()
			d.DaysSince = days
			d.EmailOK = v&1 == 0
			if v&2 != 0 {
				d.BookingURL = ""
				d.AfterHoursPhone = ""
			}
			if v&4 != 0 {
				d.SessionNumber, d.SeriesLength, d.NextSession, d.SeriesFinished = 6, 6, 0, true
				d.Emergency, d.Alert = true, 12
			}
			out = append(out, d)
		}
	}
	return out
}

func (l *linter) check(p *Protocol, opt LintOptions) {
	quiet := opt.Quiet
	if quiet == (QuietHours{}) {
		quiet = DefaultQuietHours
	}
	if !quiet.Valid() {
		l.add(SeverityError, 0, "", "", "quiet hours %d-%d are not minutes within a day", quiet.Start, quiet.End)
		return
	}
	dailyCap := opt.DailyCap
	if dailyCap == 0 {
		dailyCap = aftercare.DefaultDailyTextCap
	}
	variants := lintVariants()
	opener := ""
	for _, s := range p.steps {
		if s.RedFlags && !s.When.Late {
			opener = s.Key
			break
		}
	}
	if p.OptOutNotice == "" {
		l.add(SeverityError, l.ix.line(-1, "opt_out_notice"), "", "opt_out_notice",
			`missing: the first text must say how to opt out, such as "Reply STOP to opt out."`)
	}
	if opener == "" {
		l.add(SeverityError, l.ix.line(-1, "steps"), "", "steps",
			"no step has red_flags: true: the first text must name the red flags and the clinic's phone")
	}
	for i := range p.steps {
		s := &p.steps[i]
		if !slices.Contains(s.Channels, aftercare.SMS) {
			continue
		}
		withNotice := s.Key == opener || s.When.Late
		texts, err := renderAll(s.tmpl, variants)
		if err != nil {
			l.add(SeverityError, l.stepLine(s.Key, "sms"), s.Key, "sms", "%s", explainTemplate(err.Error()))
			continue
		}
		if withNotice && p.OptOutNotice != "" {
			for i := range texts {
				texts[i] += " " + p.OptOutNotice
			}
		}
		note := ""
		if withNotice && p.OptOutNotice != "" {
			note = " and the opt-out notice"
		}
		l.segments(s.Key, "sms", texts, note)
		if s.RedFlags {
			l.redFlags(s.Key, texts, lintData().ClinicPhone)
		} else {
			l.lockScreen(p, s, opt.AllowTreatmentName)
		}
		l.timing(s, quiet)
		l.question(s, variants)
	}
	for _, kind := range append(slices.Clone(ReplyKinds), OptionalReplyKinds...) {
		ts := p.replies[kind]
		field := "replies." + string(kind) + ".sms"
		texts, err := renderAll(ts, variants)
		if err != nil {
			l.add(SeverityError, l.ix.line(-1, field), "", field, "%s", explainTemplate(err.Error()))
			continue
		}
		l.segments("", field, texts, "")
	}
	l.samplePlans(p, quiet, dailyCap)
}

// renderAll renders an SMS template in every variant and returns the
// distinct texts. A template that does not look at the day is rendered on
// one day only.
func renderAll(ts *templates, variants []Data) ([]string, error) {
	daily := strings.Contains(ts.sms.Root.String(), "DaysSince")
	var texts []string
	for _, d := range variants {
		if !daily && d.DaysSince != 0 {
			continue
		}
		c, err := ts.render(aftercare.SMS, d)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(texts, c.Text) {
			texts = append(texts, c.Text)
		}
	}
	return texts, nil
}

// segments reports a text that takes more than two segments in any
// variant, and characters outside GSM-7.
func (l *linter) segments(step, field string, texts []string, note string) {
	line := l.stepLine(step, field)
	worst, worstText, worstUnicode := 0, "", false
	var odd []string
	for _, t := range texts {
		n, unicode := Segments(t)
		if n > worst {
			worst, worstText, worstUnicode = n, t, unicode
		}
		for _, r := range t {
			if _, ok := gsmCost[r]; !ok && !slices.Contains(odd, string(r)) {
				odd = append(odd, string(r))
			}
		}
	}
	enc := "GSM-7"
	if worstUnicode {
		enc = "UCS-2"
	}
	if worst > maxLintSegments {
		l.add(SeverityError, line, step, field,
			"takes %d SMS segments (%s, %d characters) with a 40-character clinic name and a 20-character first name%s; at most %d",
			worst, enc, len([]rune(worstText)), note, maxLintSegments)
	}
	if len(odd) > 0 {
		gsm, _ := Segments(strings.Map(func(r rune) rune {
			if _, ok := gsmCost[r]; ok {
				return r
			}
			return '?'
		}, worstText))
		quoted := make([]string, len(odd))
		for i, r := range odd {
			quoted[i] = strconv.Quote(r)
		}
		l.add(SeverityWarning, line, step, field,
			"characters outside GSM-7 (%s) send the text as UCS-2: %d segments where GSM-7 would take %d",
			strings.Join(quoted, " "), worst, gsm)
	}
}

// redFlagSigns are word stems that name warning signs, in English and
// Spanish: a red_flags text must name at least minRedFlagSigns of them.
// Stems of five letters or more match any word they start; shorter ones
// match whole words.
var redFlagSigns = []string{
	"swell", "swollen", "pain", "pus", "discharge", "fever", "hives", "bleed", "discolo", "blister", "infect", "rash", "breath",
	"hinch", "inflam", "dolor", "fiebre", "urticaria", "roncha", "sangr", "decolor", "mancha", "ampolla", "infecc", "sarpullido", "respir",
}

const minRedFlagSigns = 2

// redFlags reports a red_flags text that, in some variant, leaves out the
// clinic's phone or does not name the warning signs.
func (l *linter) redFlags(step string, texts []string, phone string) {
	line := l.stepLine(step, "sms")
	for _, t := range texts {
		if !strings.Contains(t, phone) {
			l.add(SeverityError, line, step, "sms", "a red_flags text must give the clinic's phone ({{.ClinicPhone}}) in every case")
			break
		}
	}
	for _, t := range texts {
		found := signsIn(t)
		if len(found) < minRedFlagSigns {
			l.add(SeverityError, line, step, "sms",
				"a red_flags text must name the warning signs (such as swelling, pain, pus, fever); it names %d", len(found))
			break
		}
	}
}

func signsIn(text string) []string {
	var found []string
	for _, w := range words(text) {
		for _, s := range redFlagSigns {
			if (w == s || len(s) >= 5 && strings.HasPrefix(w, s)) && !slices.Contains(found, s) {
				found = append(found, s)
			}
		}
	}
	return found
}

// words splits text into lower-case words.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && r != '-' })
}

// lockScreenTreatmentWords name a treatment; a text that shows one on a
// lock screen tells whoever sees the phone what the patient had done.
// LintOptions.AllowTreatmentName silences them (and the protocol's own
// treatment name).
var lockScreenTreatmentWords = []string{"microneedling", "peel", "botox", "filler", "laser"}

// lockScreenHealthWords are health details that belong in a red-flag text
// (which must name them) or an email, not in a routine text.
var lockScreenHealthWords = []string{"infection", "pus", "fever", "infección", "fiebre"}

// reAction matches a template action.
var reAction = regexp.MustCompile(`(?s)\{\{.*?\}\}`)

// lockScreen warns about a routine text whose words, in any branch of its
// template, reveal the treatment or health details.
func (l *linter) lockScreen(p *Protocol, s *Step, allowTreatment bool) {
	src := reAction.ReplaceAllString(s.tmpl.sms.Root.String(), " ")
	ws := words(src)
	text := " " + strings.Join(ws, " ") + " "
	has := func(w string) bool {
		w = strings.Join(words(w), " ")
		return w != "" && (strings.Contains(text, " "+w+" ") || strings.Contains(text, " "+w+"s "))
	}
	var hits []string
	if !allowTreatment {
		for _, w := range append([]string{p.Treatment, NormalizeTreatment(p.Name)}, lockScreenTreatmentWords...) {
			if has(w) && !slices.Contains(hits, w) {
				hits = append(hits, w)
			}
		}
	}
	for _, w := range lockScreenHealthWords {
		// A check-in question must name the signs its red_flag answer is
		// for ("3 if you have pus, fever, ...").
		if s.Question != nil {
			break
		}
		if has(w) && !slices.Contains(hits, w) {
			hits = append(hits, w)
		}
	}
	if len(hits) == 0 {
		return
	}
	quoted := make([]string, len(hits))
	for i, h := range hits {
		quoted[i] = strconv.Quote(h)
	}
	l.add(SeverityWarning, l.stepLine(s.Key, "sms"), s.Key, "sms",
		"shows %s on the patient's lock screen; minimum necessary: leave treatment and health details to the email or a red_flags text", strings.Join(quoted, ", "))
}

// timing reports a text whose send time falls in quiet hours, or that
// cannot go out before its stale time, whenever the patient is treated
// (every half hour of the day on which its conditions allow the step; no
// daylight-saving change).
func (l *linter) timing(s *Step, quiet QuietHours) {
	first, last := 0, 0
	if s.at.kind == daily {
		first, last = s.at.n, s.at.last
	}
	alwaysQuiet, alwaysStale, tried := true, true, false
	staleDays := []int{}
	for occ := first; occ <= last; occ++ {
		occStale := true
		for m := 0; m < minutesPerDay; m += 30 {
			if s.When.enrolledBefore >= 0 && m >= s.When.enrolledBefore {
				continue
			}
			tried = true
			treated := time.Date(2026, 6, 10, m/60, m%60, 0, 0, time.UTC)
			c := clock{treated: treated, loc: time.UTC}
			nominal := c.sendAt(s.at, occ)
			stale := c.staleAt(s.stale, nominal)
			due := nominal
			if due.Before(treated) {
				due = treated
			}
			if !quiet.Contains(due) {
				alwaysQuiet = false
			}
			if _, reason := fit(due, stale, aftercare.SMS, quiet, treated, time.UTC); reason == "" {
				occStale = false
			}
		}
		if occStale {
			staleDays = append(staleDays, occ)
		} else {
			alwaysStale = false
		}
	}
	if !tried {
		return
	}
	if alwaysQuiet {
		l.add(SeverityError, l.stepLine(s.Key, "at"), s.Key, "at",
			"%q always falls in quiet hours (%s): the text always waits until %s", s.At, quiet, formatClock(quiet.End))
	}
	switch {
	case alwaysStale:
		l.add(SeverityError, l.stepLine(s.Key, "stale"), s.Key, "stale",
			"%q always comes before the text can go out (at %q, quiet hours %s): it is never sent", s.Stale, s.At, quiet)
	case len(staleDays) > 0:
		l.add(SeverityError, l.stepLine(s.Key, "stale"), s.Key, "stale",
			"%q always comes before the text of day %d can go out (at %q, quiet hours %s): %d of its days are never sent",
			s.Stale, staleDays[0], s.At, quiet, len(staleDays))
	}
}

// lintSample is an enrollment whose plan Lint counts texts in.
type lintSample struct {
	what          string
	treated       string // local, on 2026-06-10 (a Wednesday, no clock change for weeks)
	enrolledAfter time.Duration
	session, of   int
	email         bool
}

var lintSamples = []lintSample{
	{what: "treated at 10:00, texts and email, session 1 of 3", treated: "10:00", session: 1, of: 3, email: true},
	{what: "treated at 16:00, texts only, session 3 of 3", treated: "16:00", session: 3, of: 3},
	{what: "treated at 19:30, texts only, session 1 of 3", treated: "19:30", session: 1, of: 3},
	{what: "treated at 10:00 and enrolled the next day at 12:00, texts only", treated: "10:00", enrolledAfter: 26 * time.Hour, session: 1, of: 3},
}

// samplePlans plans the sample enrollments uncapped and reports a first
// text that is not a red_flags one and days with more texts than the cap.
func (l *linter) samplePlans(p *Protocol, quiet QuietHours, dailyCap int) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		loc = time.UTC
	}
	d := lintData()
	reported := map[string]bool{}
	for _, sm := range lintSamples {
		treated, _ := time.ParseInLocation("2006-01-02 15:04", "2026-06-10 "+sm.treated, loc)
		in := Input{
			Enrollment: aftercare.Enrollment{Treatment: p.Treatment, TreatedAt: treated, SessionNumber: sm.session, SeriesLength: sm.of},
			Patient:    aftercare.Patient{FirstName: d.FirstName, Phone: "+14155550100", Timezone: loc.String()},
			Clinic:     aftercare.Clinic{Name: d.ClinicName, Phone: d.ClinicPhone, BookingURL: d.BookingURL, Timezone: loc.String()},
			SMSConsent: true, EmailConsent: sm.email,
		}
		if sm.email {
			in.Patient.Email = "patient@example.com"
		}
		msgs, err := p.Plan(in, Options{Quiet: quiet, DailyCap: -1}, treated.Add(sm.enrolledAfter))
		if err != nil {
			l.add(SeverityError, 0, "", "", "planning a patient %s: %v", sm.what, err)
			continue
		}
		c := clock{treated: treated, loc: loc}
		first := true
		perDay := map[int][]string{}
		var days []int
		for _, m := range msgs {
			if m.Channel != aftercare.SMS || m.Status != aftercare.StatusScheduled {
				continue
			}
			s, _ := p.Step(m.Step)
			if first && !s.RedFlags && !reported["first:"+m.Step] {
				reported["first:"+m.Step] = true
				l.add(SeverityError, l.stepLine(m.Step, "red_flags"), m.Step, "",
					"is the first text for a patient %s, but it does not name the red flags: add a red_flags step with when: {late: true} and at: \"0h\"", sm.what)
			}
			first = false
			day := dayNumber(c, m.SendAt)
			if perDay[day] == nil {
				days = append(days, day)
			}
			perDay[day] = append(perDay[day], m.Step+" "+m.SendAt.In(loc).Format("15:04"))
		}
		if dailyCap < 0 {
			continue
		}
		for _, day := range days {
			texts := perDay[day]
			key := fmt.Sprint(day, texts)
			if len(texts) <= dailyCap || reported[key] {
				continue
			}
			reported[key] = true
			l.add(SeverityWarning, l.ix.line(-1, "steps"), "", "steps",
				"day %d has %d texts (%s) for a patient %s; the clinic's cap is %d a day",
				day, len(texts), strings.Join(texts, ", "), sm.what, dailyCap)
		}
	}
}
