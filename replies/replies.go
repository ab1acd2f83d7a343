package replies

import (
	"strings"
)

// Kind classifies a reply.
type Kind string

// Reply kinds.
const (
	Stop    Kind = "stop"
	Start   Kind = "start"
	Help    Kind = "help"
	RedFlag Kind = "red_flag"
	Other   Kind = "other"
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// Match explains one red-flag sign found in a reply: which sign, and the
// patient's own words that matched it. Alerts show these so staff can see
// why a reply was flagged. Note is set only for a sign that was found but
// not counted: "negated" ("no fever"), "resolved" ("the swelling went
// down"), "mild" ("a bit swollen") or "hypothetical" ("what if I get a
// fever?").
type Match struct {
	Sign  string `json:"sign"`
	Words string `json:"words"`
	Note  string `json:"note,omitempty"`
}

// Result is a classified reply.
type Result struct {
	Kind Kind
	// Signs lists the red-flag signs found, in a fixed order.
	Signs []string
	// Matches explains each sign with the words that matched it.
	Matches []Match
	// Emergency is set when a sign calls for emergency services first
	// (fainting, trouble breathing, throat or lips swelling): the patient
	// is told to call 911 before the clinic. Kind is RedFlag then.
	Emergency bool
	// OptOut is set when the patient asked to stop texts, alone (Kind
	// Stop) or together with a red flag (Kind RedFlag): both are honoured.
	OptOut bool
	// Language is the reply's language as far as it can be told ("en" or
	// "es"), "" when unknown.
	Language string
	// OptOutWords quotes the words that asked to stop, when OptOut is set.
	OptOutWords string
	// NotCounted lists signs whose words appear but were not counted, and
	// why (Match.Note): what a reviewer needs to see a reply was read.
	NotCounted []Match
}

// Explain says which sign matched which words, for staff alerts and logs
// at debug level (it quotes the patient). Signs that were mentioned but not
// counted follow, with the reason.
func (r Result) Explain() string {
	parts := make([]string, 0, len(r.Matches)+len(r.NotCounted)+1)
	for _, m := range r.Matches {
		parts = append(parts, m.Sign+": \""+m.Words+"\"")
	}
	if r.OptOut {
		parts = append(parts, "opt-out: \""+r.OptOutWords+"\"")
	}
	for _, m := range r.NotCounted {
		parts = append(parts, "not counted, "+m.Note+": "+m.Sign+": \""+m.Words+"\"")
	}
	return strings.Join(parts, "; ")
}

// Classify reads a reply. It is deterministic and needs no network: the
// same body always gives the same Result.
//
// A red flag wins: a reply that names a red-flag sign is Kind RedFlag even
// if it also asks to stop (OptOut is then set too, and both are honoured).
// Otherwise an opt-out request is Stop; START, UNSTOP, YES or SUBSCRIBE as
// the whole message is Start; HELP, INFO or AYUDA is Help; anything else is
// Other.
func Classify(body string) Result {
	if len(body) > maxBody {
		body = body[:maxBody]
	}
	t := parse(body)
	r := Result{Language: guessLanguage(&t)}
	r.OptOutWords, r.OptOut = optOut(&t)
	r.Matches, r.NotCounted = redFlags(&t)
	for _, m := range r.Matches {
		r.Signs = append(r.Signs, m.Sign)
		if emergencySigns[m.Sign] {
			r.Emergency = true
		}
	}
	switch {
	case len(r.Matches) > 0:
		r.Kind = RedFlag
	case r.OptOut:
		r.Kind = Stop
	case wholeIs(&t, startWhole):
		r.Kind = Start
	case wholeIs(&t, helpWhole):
		r.Kind = Help
	default:
		r.Kind = Other
	}
	return r
}

// maxBody bounds the work for one reply: a longer body is read up to
// here. An SMS carries at most 1,600 characters (6,400 bytes).
const maxBody = 16 << 10

var emergencySigns = func() map[string]bool {
	m := map[string]bool{}
	for _, sg := range signs {
		if sg.emergency {
			m[sg.name] = true
		}
	}
	return m
}()

// RedFlags returns the red-flag signs a reply mentions, in a fixed order
// (emergencies first). It errs on the side of alerting: a false alarm
// costs a phone call, a missed one can cost a patient's skin.
func RedFlags(body string) []string {
	return Classify(body).Signs
}

// redFlags finds each sign's first counted cue; a sign whose every cue was
// discounted is returned in notCounted with the first reason.
func redFlags(t *text) (found, notCounted []Match) {
	for _, sg := range signs {
		var hit, miss *Match
		for i := 0; i < len(t.toks) && hit == nil; i++ {
			for _, c := range sg.cues {
				e, ok := c.p.match(t, i)
				if !ok {
					continue
				}
				why := discount(t, i, e, c.mild)
				if why == "" {
					hit = &Match{Sign: sg.name, Words: t.words(i, e)}
					break
				}
				if miss == nil {
					miss = &Match{Sign: sg.name, Words: t.words(i, e), Note: why}
				}
			}
		}
		switch {
		case hit != nil:
			found = append(found, *hit)
		case miss != nil:
			notCounted = append(notCounted, *miss)
		}
	}
	return found, notCounted
}
