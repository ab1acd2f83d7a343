package protocol

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

// minimalReplies completes a test protocol.
const minimalReplies = `
replies:
  help: {sms: "{{.ClinicName}} {{.ClinicPhone}}"}
  red_flag_ack: {sms: "call {{.ClinicPhone}}"}
  red_flag_alert:
    sms: "{{.PatientName}}: {{.Reply}}"
    email: {subject: "alert {{.PatientName}}", text: "{{.Reply}}", html: "<p>{{.Reply}}</p>"}
  opted_in: {sms: "ok"}
`

func TestDefault(t *testing.T) {
	t.Parallel()
	p := setup(t)
	if p.Name != "microneedling" || p.Version < 1 {
		t.Errorf("name %q version %d", p.Name, p.Version)
	}
	if p.OptOutNotice != "Reply STOP to opt out." {
		t.Errorf("opt-out notice %q", p.OptOutNotice)
	}
	type row struct {
		key, channels, at, stale, series string
		calendar, daily                  bool
	}
	want := []row{
		{"late_start", "sms", "0h", "day 61", "", false, false},
		{"welcome", "sms,email", "0h", "12h", "", false, false},
		{"evening_care", "sms", "day 0 at 20:00", "day 0 at 23:59", "", false, false},
		{"day1_checkin", "sms", "day 1 at 09:00", "day 1 at 18:00", "", false, false},
		{"makeup_ok", "sms", "48h", "72h", "", false, false},
		{"dryness", "sms", "day 3 at 09:00", "day 4 at 21:00", "", false, false},
		{"sunscreen", "sms", "08:30 on days 1-14", "same day at 12:00", "", false, true},
		{"reintroduce_actives", "sms,email", "day 7 at 10:00", "day 9 at 21:00", "", false, false},
		{"back_to_routine", "email,sms", "day 14 at 10:00", "day 16", "", false, false},
		{"book_next", "sms,email", "day 28 at 11:00", "day 35", SeriesUnfinished, true, false},
		{"last_call", "sms", "day 42 at 11:00", "day 45", SeriesUnfinished, false, false},
		{"maintenance", "email,sms", "month 6 at 11:00", "+30d", SeriesFinished, false, false},
	}
	var got []row
	for _, s := range p.Steps() {
		var chs []string
		for _, c := range s.Channels {
			chs = append(chs, string(c))
		}
		got = append(got, row{s.Key, strings.Join(chs, ","), s.At, s.Stale, s.When.Series, s.Calendar, s.Daily()})
		if s.Title == "" || s.Title == s.Key {
			t.Errorf("step %s has no title for staff", s.Key)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps:\n%v\nwant:\n%v", got, want)
	}
	if s, ok := p.Step("evening_care"); !ok || s.When.EnrolledBefore != "18:00" {
		t.Errorf("evening_care: %v %+v", ok, s.When)
	}
	var redFlags, fallback []string
	for _, s := range p.Steps() {
		if s.RedFlags {
			redFlags = append(redFlags, s.Key)
		}
		if s.SMSFallback {
			fallback = append(fallback, s.Key)
		}
	}
	if want := []string{"late_start", "welcome", "day1_checkin"}; !slices.Equal(redFlags, want) {
		t.Errorf("red_flags steps %v, want %v", redFlags, want)
	}
	if want := []string{"back_to_routine", "maintenance"}; !slices.Equal(fallback, want) {
		t.Errorf("sms_fallback steps %v, want %v", fallback, want)
	}
	if s, _ := p.Step("late_start"); !s.When.Late {
		t.Error("late_start is not conditioned on a late enrollment")
	}
	if s, _ := p.Step("welcome"); s.EmailStale != "day 14" {
		t.Errorf("welcome email_stale %q, want the guide sent for any enrollment within 14 days", s.EmailStale)
	}
	if _, ok := p.Step("nope"); ok {
		t.Error("Step(nope) found a step")
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "custom.yaml")
	if err := os.WriteFile(path, DefaultYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps()) != len(setup(t).Steps()) {
		t.Errorf("loaded %d steps", len(p.Steps()))
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load(missing) = %v, want an error naming the file", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nversion: 1\ncolour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "colour") {
		t.Errorf("Load(bad) = %v, want an error naming the file and the key", err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	// doc builds a protocol around one step's YAML (indented as a list item).
	doc := func(step string) string {
		return "name: test\nversion: 1\nsteps:\n" + step + minimalReplies
	}
	const okStep = `
  - key: a
    at: "day 1 at 09:00"
    stale: "day 1 at 18:00"
    channels: [sms]
    sms: "hi {{.FirstName}}"
`
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty protocol"},
		{"not yaml", "steps: [", "yaml:"},
		{"wrong type", "name: t\nversion: one\n", "version: cannot unmarshal"},
		{"two documents", doc(okStep) + "---\nname: b\n", "more than one YAML document"},
		{"unknown top-level key", doc(okStep) + "colour: red\n", `unknown key "colour" (line 18)`},
		{"name missing", strings.Replace(doc(okStep), "name: test", "", 1), "name: missing"},
		{"version zero", strings.Replace(doc(okStep), "version: 1", "version: 0", 1), "version: must be 1 or more"},
		{"no steps", "name: t\nversion: 1\n" + minimalReplies, "steps: missing"},
		{"layout without content", doc(okStep) + "email_layout: <p>hi</p>\n", `email_layout: must include`},
		{"opt-out notice on two lines", doc(okStep) + "opt_out_notice: \"Reply\\nSTOP\"\n", "opt_out_notice: must be one line"},
		{"unknown step key", doc(okStep + "    tilte: A\n"), `step "a": unknown key "tilte"`},
		{"key missing", doc(okStep + `  - at: "day 2 at 09:00"
    stale: "day 2 at 18:00"
    channels: [sms]
    sms: x
`), "step 2: key: missing"},
		{"duplicate key", doc(okStep + okStep), `step "a": key: used by more than one step`},
		{"bad key", doc(strings.Replace(okStep, "key: a", "key: Welcome!", 1)), `step "Welcome!": key: "Welcome!" must be lower-case`},
		{"unknown channel", doc(strings.Replace(okStep, "[sms]", "[sms, fax]", 1)), `step "a": channels: unknown channel "fax"`},
		{"channel twice", doc(strings.Replace(okStep, "[sms]", "[sms, sms]", 1)), `step "a": channels: sms listed twice`},
		{"no channels", doc(strings.Replace(okStep, "channels: [sms]", "channels: []", 1)), `step "a": channels: missing`},
		{"sms channel without template", doc(strings.Replace(okStep, `sms: "hi {{.FirstName}}"`, "", 1)), `step "a": sms: missing`},
		{"email template without channel", doc(okStep + "    email: {subject: s, text: t, html: h}\n"), `step "a": email: given, but email is not in channels`},
		{"email channel without template", doc(strings.Replace(okStep, "[sms]", "[sms, email]", 1)), `step "a": email: missing`},
		{"email without subject", doc(strings.Replace(okStep, "[sms]", "[sms, email]", 1) + "    email: {text: t, html: h}\n"), `step "a": email: subject: missing`},
		{"at missing", doc(strings.Replace(okStep, `at: "day 1 at 09:00"`, "", 1)), `step "a": at: missing`},
		{"at unreadable", doc(strings.Replace(okStep, "day 1 at 09:00", "tomorrow", 1)), `step "a": at: "tomorrow" is not a duration`},
		{"at negative", doc(strings.Replace(okStep, `"day 1 at 09:00"`, `"-1h"`, 1)), `step "a": at: "-1h" is not a duration`},
		{"at bad hour", doc(strings.Replace(okStep, "day 1 at 09:00", "day 1 at 25:00", 1)), `step "a": at: "25:00" is not a time of day`},
		{"at day out of range", doc(strings.Replace(okStep, "day 1 at 09:00", "day 999999 at 09:00", 1)), `step "a": at: day 999999 is out of range`},
		{"daily backwards", doc(strings.Replace(okStep, "day 1 at 09:00", "08:30 on days 5-1", 1)), `step "a": at: "08:30 on days 5-1": days 5-1 run backwards`},
		{"daily too long", doc(strings.Replace(okStep, "day 1 at 09:00", "08:30 on days 0-999", 1)), `step "a": at: "08:30 on days 0-999": more than 366 days`},
		{"stale missing", doc(strings.Replace(okStep, `stale: "day 1 at 18:00"`, "", 1)), `step "a": stale: missing`},
		{"stale unreadable", doc(strings.Replace(okStep, "day 1 at 18:00", "later", 1)), `step "a": stale: "later" is not a duration`},
		{"stale before send", doc(strings.Replace(okStep, "day 1 at 18:00", "day 1 at 08:00", 1)), `step "a": stale: "day 1 at 08:00" can come before the send time "day 1 at 09:00"`},
		{"stale equal to send", doc(strings.Replace(okStep, "day 1 at 18:00", "day 1 at 09:00", 1)), `step "a": stale: "day 1 at 09:00" can come before`},
		{"stale duration before a clock time", doc(strings.Replace(strings.Replace(okStep, "day 1 at 18:00", "12h", 1), "day 1 at 09:00", "day 0 at 20:00", 1)), `step "a": stale: "12h" can come before the send time "day 0 at 20:00"`},
		{"stale day before a duration", doc(strings.Replace(strings.Replace(okStep, "day 1 at 18:00", "day 2 at 09:00", 1), `"day 1 at 09:00"`, `"48h"`, 1)), `step "a": stale: "day 2 at 09:00" can come before the send time "48h"`},
		{"durations backwards", doc(strings.Replace(strings.Replace(okStep, `"day 1 at 18:00"`, `"1h"`, 1), `"day 1 at 09:00"`, `"2h"`, 1)), `step "a": stale: "1h" is not after the send time "2h"`},
		{"same day without a time of day", doc(strings.Replace(strings.Replace(okStep, "day 1 at 18:00", "same day at 12:00", 1), `"day 1 at 09:00"`, `"2h"`, 1)), `step "a": stale: "same day at 12:00" needs a step with a time of day`},
		{"same day earlier", doc(strings.Replace(okStep, "day 1 at 18:00", "same day at 08:00", 1)), `step "a": stale: "same day at 08:00" is not after the send time`},
		{"monthly with a fixed stale", doc(strings.Replace(okStep, "day 1 at 09:00", "month 6 at 11:00", 1)), `step "a": stale: "day 1 at 18:00": a monthly step needs`},
		{"stale +0d", doc(strings.Replace(okStep, "day 1 at 18:00", "+0d", 1)), `step "a": stale: "+0d": must be at least +1d`},
		{"unknown condition", doc(okStep + "    when: {rain: true}\n"), `step "a": when: unknown key "rain"`},
		{"bad series condition", doc(okStep + "    when: {series: maybe}\n"), `step "a": when: series: "maybe" is not`},
		{"bad enrolled_before", doc(okStep + "    when: {enrolled_before: 6pm}\n"), `step "a": when: enrolled_before: "6pm" is not a time of day`},
		{"calendar without email", doc(okStep + "    calendar: true\n"), `step "a": calendar: needs the email channel`},
		{"template does not parse", doc(strings.Replace(okStep, "{{.FirstName}}", "{{.FirstName", 1)), `step "a": sms: template: sms:1: unclosed action`},
		{"template names a missing field", doc(strings.Replace(okStep, "{{.FirstName}}", "{{.Nickname}}", 1)), `step "a": sms: template: sms:1:5: executing "sms" at <.Nickname>: can't evaluate field Nickname`},
		{"template renders empty", doc(strings.Replace(okStep, `"hi {{.FirstName}}"`, `"{{if .SeriesFinished}}done{{end}}"`, 1)), `step "a": sms: renders empty`},
		{"html template fails", doc(strings.Replace(okStep, "[sms]", "[sms, email]", 1) + "    email: {subject: s, text: t, html: \"{{.Nope}}\"}\n"), `step "a": email: html:`},
		{"reply missing", strings.Replace(doc(okStep), "opted_in: {sms: \"ok\"}", "", 1), "replies: opted_in: sms: missing"},
		{"alert without email", strings.Replace(doc(okStep), "    email: {subject: \"alert", "    x_email: {subject: \"alert", 1), `replies: red_flag_alert: unknown key "x_email"`},
		{"unknown reply", doc(okStep) + "  thanks: {sms: hi}\n", `replies: unknown key "thanks"`},
		{"reply template fails", strings.Replace(doc(okStep), "{{.Reply}}\"", "{{.Replies}}\"", 1), `replies: red_flag_alert: sms:`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded with %d steps, want an error containing %q", len(p.Steps()), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error:\n  %v\nwant it to contain:\n  %s", err, tc.want)
			}
		})
	}
	// The base document itself is valid, so each case fails for its own reason.
	if _, err := Parse([]byte(doc(okStep))); err != nil {
		t.Fatalf("base document: %v", err)
	}
}

func TestParseAcceptsEveryTimingForm(t *testing.T) {
	t.Parallel()
	tests := []struct{ at, stale string }{
		{"0h", "12h"},
		{"90m", "+6h"},
		{"day 2 at 9:00", "day 2"},
		{"day 2 at 09:00", "+1d"},
		{"07:45 on days 0-0", "same day at 07:46"},
		{"month 1 at 11:00", "+30d"},
		{"months 12 at 00:00", "same day at 23:59"},
		{"48h", "day 3 at 23:59"},
	}
	for _, tc := range tests {
		t.Run(tc.at+" / "+tc.stale, func(t *testing.T) {
			t.Parallel()
			y := "name: t\nversion: 1\nsteps:\n  - key: a\n    at: \"" + tc.at + "\"\n    stale: \"" + tc.stale +
				"\"\n    channels: [email]\n    email: {subject: s, text: t, html: h}\n" + minimalReplies
			if _, err := Parse([]byte(y)); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func TestReplies(t *testing.T) {
	t.Parallel()
	p := setup(t)
	d := Data{
		FirstName: "Maya", PatientName: "Maya Lopez", PatientPhone: "+14155550100",
		ClinicName: "Glow Clinic", ClinicPhone: "+14155550123",
		Reply: "my cheek is very swollen and there is yellow pus",
	}
	tests := []struct {
		kind ReplyKind
		ch   aftercare.Channel
		want []string
	}{
		{ReplyHelp, aftercare.SMS, []string{"Glow Clinic", "+14155550123", "STOP"}},
		{ReplyRedFlagAck, aftercare.SMS, []string{"Glow Clinic", "call us now at +14155550123", "emergency services"}},
		{ReplyRedFlagAlert, aftercare.SMS, []string{"Maya Lopez", "+14155550100", `"my cheek is very swollen and there is yellow pus"`}},
		{ReplyRedFlagAlert, aftercare.Email, []string{"Maya Lopez", "my cheek is very swollen and there is yellow pus"}},
		{ReplyOptedIn, aftercare.SMS, []string{"Glow Clinic", "STOP", "HELP"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind)+"/"+string(tc.ch), func(t *testing.T) {
			t.Parallel()
			c, err := p.RenderReply(tc.kind, tc.ch, d)
			if err != nil {
				t.Fatal(err)
			}
			all := c.Subject + "\n" + c.Text + "\n" + c.HTML
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("%q lacks %q", all, w)
				}
			}
		})
	}
	if _, err := p.RenderReply("thanks", aftercare.SMS, d); err == nil {
		t.Error("RenderReply(thanks) succeeded")
	}
	if _, err := p.RenderReply(ReplyHelp, aftercare.Email, d); err == nil {
		t.Error("RenderReply(help, email) succeeded; help has no email")
	}
}
