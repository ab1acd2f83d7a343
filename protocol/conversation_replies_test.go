package protocol

import (
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

// The answers and alerts of a conversation stay within two GSM-7 segments
// (306 characters) for a 40-character clinic name and a 20-character first
// name, with an after-hours number and a long reply quoted.
func TestConversationRepliesFitTwoSegments(t *testing.T) {
	t.Parallel()
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	d := Data{FirstName: strings.Repeat("a", 20), PatientName: strings.Repeat("a", 20) + " " + strings.Repeat("b", 20),
		PatientPhone: "+14155550100", ClinicName: strings.Repeat("c", 40), ClinicPhone: "+14155550123",
		AfterHoursPhone: "+14155550124", Reply: strings.Repeat("word ", 60), Signs: strings.Repeat("s", 120),
		Emergency: true, Alert: 8, ReplyCount: 3}
	for _, k := range OptionalReplyKinds {
		c, err := p.RenderReply(k, aftercare.SMS, d)
		if err != nil {
			t.Fatal(err)
		}
		if n := len([]rune(c.Text)); n > 306 {
			t.Errorf("%s: %d characters, more than two segments: %q", k, n, c.Text)
		}
	}
	for _, k := range []ReplyKind{ReplyRedFlagAnswer, ReplyEmergency} {
		c, _ := p.RenderReply(k, aftercare.SMS, d)
		if !strings.Contains(c.Text, d.AfterHoursPhone) || !strings.Contains(c.Text, "911") {
			t.Errorf("%s lacks the after-hours number or 911: %q", k, c.Text)
		}
	}
}

// A protocol that predates the conversation replies still loads and uses
// the built-in wording.
func TestOptionalRepliesFallBackToTheBuiltIns(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("name: t\nversion: 1\nsteps:\n  - key: a\n    at: \"day 1 at 08:30\"\n    stale: \"same day at 12:00\"\n    channels: [sms]\n    sms: \"hi\"\n" + minimalReplies))
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.RenderReply(ReplyQuestion, aftercare.SMS, Data{ClinicName: "Glow", ClinicPhone: "+14155550123", FirstName: "Ana"})
	if err != nil || !strings.Contains(c.Text, "not watched") {
		t.Fatalf("question answer: %q %v", c.Text, err)
	}
}
