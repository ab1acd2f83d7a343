package enroll

import (
	"strings"
)

// Warning is something in a request that is probably a mistake but is not
// refused (an enrollment is never held up by a guess): the caller shows it
// so that the clinic can correct it.
type Warning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Suggestion is the corrected value, when there is one.
	Suggestion string `json:"suggestion,omitempty"`
}

// Warnings returns the likely mistakes in req: today, an email address
// whose domain is one typo away from a common mail provider
// (gmial.con → gmail.com).
func Warnings(req Request) []Warning {
	var out []Warning
	if email, err := NormalizeEmail(req.Email); err == nil && email != "" {
		at := strings.LastIndexByte(email, '@')
		if d := suggestDomain(email[at+1:]); d != "" {
			fixed := email[:at+1] + d
			out = append(out, Warning{Field: "email", Suggestion: fixed,
				Message: "did you mean " + fixed + "? (" + email[at+1:] + " looks like a typo of " + d + ")"})
		}
	}
	return out
}

// mailDomains are the providers most patients' addresses are at, and the
// real domains that are one typo away from one of them (so not corrected).
var mailDomains = []string{
	"gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com", "live.com",
	"msn.com", "me.com", "mac.com", "comcast.net", "att.net", "verizon.net", "sbcglobal.net", "protonmail.com",
	"proton.me", "ymail.com", "rocketmail.com", "gmx.com", "mail.com", "yahoo.co.uk", "hotmail.co.uk", "yahoo.es",
	"hotmail.es", "yahoo.com.mx", "hotmail.fr", "outlook.es", "bellsouth.net", "cox.net", "charter.net",
}

var realDomains = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range mailDomains {
		m[d] = true
	}
	for _, d := range []string{"gmx.net", "gmx.de", "mail.ru", "yahoo.fr", "yahoo.de", "live.co.uk", "email.com", "me.net"} {
		m[d] = true
	}
	return m
}()

// topLevelTypos are misspellings of .com.
var topLevelTypos = map[string]bool{"con": true, "cm": true, "cmo": true, "ocm": true, "vom": true, "xom": true,
	"comm": true, "coom": true, "cpm": true, "om": true, "c0m": true}

// suggestDomain returns the mail domain d is probably a typo of, or "".
func suggestDomain(d string) string {
	if realDomains[d] {
		return ""
	}
	best, bestDist := "", 3
	for _, m := range mailDomains {
		limit := 1
		if len(m) >= 9 {
			limit = 2
		}
		if dist := editDistance(d, m); dist <= limit && dist < bestDist {
			best, bestDist = m, dist
		}
	}
	if best != "" {
		return best
	}
	// Any domain ending in a misspelled .com: example.con → example.com.
	if i := strings.LastIndexByte(d, '.'); i > 0 && topLevelTypos[d[i+1:]] {
		return d[:i] + ".com"
	}
	return ""
}

// editDistance is the optimal string alignment distance of a and b
// (insertions, deletions, substitutions and swaps of adjacent bytes).
func editDistance(a, b string) int {
	if abs(len(a)-len(b)) > 2 {
		return 3
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
