// Package replies reads what patients text back: opt-out and opt-in
// keywords, HELP, and replies that sound like a complication (a red flag)
// and must reach clinic staff at once.
package replies

import (
	"strings"
	"unicode"
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

// Keywords are matched against the whole message (trimmed, any case), as
// carriers and Twilio do: "the bleeding won't stop" is not an opt-out.
var (
	stopWords  = set("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke")
	startWords = set("start", "unstop", "yes", "subscribe")
	helpWords  = set("help", "info")
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
// why a reply was flagged.
type Match struct {
	Sign  string `json:"sign"`
	Words string `json:"words"`
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
}

// Explain says which sign matched which words, for staff alerts and logs
// at debug level (it quotes the patient).
func (r Result) Explain() string {
	parts := make([]string, 0, len(r.Matches))
	for _, m := range r.Matches {
		parts = append(parts, m.Sign+": \""+m.Words+"\"")
	}
	return strings.Join(parts, "; ")
}

// Classify reads a reply. Keywords win over red flags only when they are
// the whole message.
func Classify(body string) Result {
	norm := strings.ToLower(strings.TrimSpace(body))
	norm = strings.Trim(norm, ".!? \t\r\n")
	compact := strings.ReplaceAll(strings.ReplaceAll(norm, " ", ""), "-", "")
	switch {
	case stopWords[norm] || stopWords[compact]:
		return Result{Kind: Stop, OptOut: true}
	case startWords[norm] || startWords[compact]:
		return Result{Kind: Start}
	case helpWords[norm]:
		return Result{Kind: Help}
	}
	if signs := RedFlags(body); len(signs) > 0 {
		r := Result{Kind: RedFlag, Signs: signs}
		for _, sg := range signs {
			r.Matches = append(r.Matches, Match{Sign: sg})
		}
		return r
	}
	return Result{Kind: Other}
}

// sign is one red flag and the word forms that indicate it. Single words
// are matched as word stems and with one typo allowed for longer words;
// phrases are matched on the normalized text.
type sign struct {
	name    string
	words   []string // stems: a word matches if it starts with the stem
	typos   []string // whole words matched within edit distance 1
	phrases []string
}

var signs = []sign{
	{name: "swelling", words: []string{"swell", "swollen", "swolen", "puffy", "puffed"}, typos: []string{"swelling", "swollen", "sweling"}},
	{name: "pus or discharge", words: []string{"pus", "puss", "discharg", "ooz", "weep"}, typos: []string{"discharge", "oozing"},
		phrases: []string{"yellow stuff", "green stuff", "greenish", "yellowish"}},
	{name: "fever", words: []string{"fever", "feverish", "fevr", "chills", "temperature"}, typos: []string{"fever", "feverish"}},
	{name: "hives", words: []string{"hive", "hives", "welt", "rash"}, typos: []string{"hives"}},
	{name: "bleeding", words: []string{"bleed", "bled", "bleeding", "bloody"}, typos: []string{"bleeding", "bleeds"},
		phrases: []string{"blood"}},
	{name: "severe pain", words: []string{"agony", "excruciat", "unbearabl", "throbbing"},
		phrases: []string{"severe pain", "intense pain", "a lot of pain", "so much pain", "really painful", "very painful",
			"extremely painful", "really hurts", "hurts so", "hurts a lot", "hurts really", "so painful", "worse pain", "pain is getting worse",
			"pain getting worse", "pain wont stop", "pain won't stop", "cant sleep from", "can't sleep from"}},
	{name: "allergic reaction", words: []string{"allerg", "alerg", "anaphyla", "allergic"}, typos: []string{"allergic", "allergy", "reaction"},
		phrases: []string{"cant breathe", "can't breathe", "cannot breathe", "trouble breathing", "hard to breathe", "throat closing", "lips swelling", "face swelling"}},
	{name: "infection", words: []string{"infect", "infcted", "abscess"}, typos: []string{"infected", "infection"}},
	{name: "skin discoloration", words: []string{"discolor", "discolour", "blister"}, phrases: []string{"turning black", "turning purple", "gone grey", "gone gray", "dark patches"}},
}

// RedFlags returns the red-flag signs a reply mentions, in a fixed order.
// It errs on the side of alerting: a false alarm costs a phone call, a
// missed one can cost a patient's skin.
func RedFlags(body string) []string {
	text := normalize(body)
	words := strings.Fields(text)
	var found []string
	for _, sg := range signs {
		if matches(sg, text, words) {
			found = append(found, sg.name)
		}
	}
	return found
}

func matches(sg sign, text string, words []string) bool {
	padded := " " + text + " "
	for _, p := range sg.phrases {
		if strings.Contains(padded, " "+normalize(p)+" ") {
			return true
		}
	}
	for _, w := range words {
		for _, stem := range sg.words {
			if strings.HasPrefix(w, stem) && (len(stem) >= 4 || w == stem || w == stem+"s" || w == stem+"y") {
				return true
			}
		}
		if len(w) >= 5 {
			for _, t := range sg.typos {
				if editDistanceAtMost1(w, t) {
					return true
				}
			}
		}
	}
	return false
}

// normalize lower-cases, drops apostrophes and turns other punctuation
// into spaces.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '\'' || r == '\u2019':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// editDistanceAtMost1 reports whether a and b differ by at most one
// insertion, deletion, substitution or adjacent transposition.
func editDistanceAtMost1(a, b string) bool {
	if a == b {
		return true
	}
	ra, rb := []rune(a), []rune(b)
	la, lb := len(ra), len(rb)
	if la-lb > 1 || lb-la > 1 {
		return false
	}
	i := 0
	for i < la && i < lb && ra[i] == rb[i] {
		i++
	}
	switch {
	case la == lb:
		if i+1 < la && ra[i] == rb[i+1] && ra[i+1] == rb[i] && string(ra[i+2:]) == string(rb[i+2:]) {
			return true
		}
		return string(ra[i+1:]) == string(rb[i+1:])
	case la > lb:
		return string(ra[i+1:]) == string(rb[i:])
	default:
		return string(ra[i:]) == string(rb[i+1:])
	}
}
