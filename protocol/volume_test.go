package protocol

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aftercare/aftercare"
)

// The consent wording shown to patients states the counts the default
// protocol's plans really have: change the protocol so they differ and
// this fails until the wording (and its version) change too.
func TestConsentWordingMatchesPlan(t *testing.T) {
	t.Parallel()
	p := setup(t)
	v := p.Volume()
	t.Logf("volume: %+v", v)
	w, ok := aftercare.ConsentWordingFor(aftercare.ConsentWordingVersion)
	if !ok {
		t.Fatalf("no wording for %s", aftercare.ConsentWordingVersion)
	}
	for _, want := range []string{
		fmt.Sprintf("up to %d texts over about %d weeks", v.Texts, v.Weeks),
		fmt.Sprintf("at most %d in a day", v.MaxTextsPerDay),
		fmt.Sprintf("one more about %d months later", v.LaterMonths),
		"Reply STOP at any time to end them",
	} {
		if !strings.Contains(w.SMS, want) {
			t.Errorf("sms consent wording lacks %q:\n%s", want, w.SMS)
		}
	}
	for _, want := range []string{
		fmt.Sprintf("up to %d emails over about %d weeks", v.Emails, v.Weeks),
		fmt.Sprintf("one more about %d months later", v.LaterMonths),
		"unsubscribe link",
	} {
		if !strings.Contains(w.Email, want) {
			t.Errorf("email consent wording lacks %q:\n%s", want, w.Email)
		}
	}
}

// Volume counts what plans hold: a texts-only patient's extra texts, and
// no more than the plan of a typical enrollment.
func TestVolume(t *testing.T) {
	t.Parallel()
	p := setup(t)
	v := p.Volume()
	// A first session enrolled on time, texts only: welcome, evening care,
	// day 1, makeup, dryness, 14 sunscreens, actives, back to routine,
	// book next, last call.
	if v.Texts != 23 || v.Emails != 4 || v.Weeks != 6 || v.LaterMonths != 6 {
		t.Errorf("volume %+v", v)
	}
	if v.MaxTextsPerDay < 2 || v.MaxTextsPerDay > 3 {
		t.Errorf("at most %d texts a day", v.MaxTextsPerDay)
	}
}
