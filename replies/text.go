package replies

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one word of a reply: its folded form (lower case, no accents,
// no apostrophes), where it sits in the original text (so an alert can
// quote the patient's own words) and which clause it belongs to.
type token struct {
	w          string
	start, end int // byte offsets in the original body
	clause     int
	lo, hi     int      // the token range of this token's clause
	near       []string // typo-tolerant sign words one typo away (nearWords)
}

// text is a reply cut into words and clauses. Clauses end at sentence
// punctuation, commas and words such as "but" or "pero": a negation or a
// "went down" only reaches the words of its own clause, so "no fever, but
// it hurts" keeps the pain.
type text struct {
	body string
	toks []token
}

// clauseBreakers start a new clause and are not words of either.
var clauseBreakers = map[string]bool{
	"but": true, "however": true, "though": true, "although": true, "except": true,
	"pero": true, "aunque": true, "sino": true, "mais": true,
}

// fold maps one rune to its folded form: lower case, without accents,
// full-width forms to ASCII. It returns "" for runes that vanish (zero
// width and other format characters, combining marks, apostrophes).
func fold(r rune) (string, bool) {
	if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
		r -= 0xFEE0
	}
	switch r {
	case '\'', '\u2019', '\u2018', '`', '\u00b4', '\u02bc':
		return "", true
	}
	if unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Cf, r) {
		return "", true
	}
	r = unicode.ToLower(r)
	if r < utf8.RuneSelf {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			return string(r), true
		}
		return "", false
	}
	if s, ok := accents[r]; ok {
		return s, true
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return string(r), true
	}
	return "", false
}

var accents = func() map[rune]string {
	m := map[rune]string{'œ': "oe", 'æ': "ae", 'ß': "ss", 'ø': "o", 'ł': "l", 'đ': "d"}
	for base, list := range map[string]string{
		"a": "àáâãäåāăą", "c": "çćčĉċ", "e": "èéêëēĕėęě", "i": "ìíîïĩīĭįı", "n": "ñńňņ",
		"o": "òóôõöōŏő", "u": "ùúûüũūŭůűų", "y": "ýÿŷ", "s": "śšşŝ", "z": "źžż", "g": "ğĝ", "r": "ř", "t": "ťţ", "d": "ď",
	} {
		for _, r := range list {
			m[r] = base
		}
	}
	return m
}()

// sentenceEnd reports whether a separator rune ends a clause.
func sentenceEnd(r rune) bool {
	switch r {
	case '.', ',', ';', ':', '!', '?', '\n', '\r', '(', ')', '[', ']', '¡', '¿', '…', '|', '/':
		return true
	}
	return false
}

// joinAfterBreaker: "but" followed by one of these continues the clause,
// so "like a sunburn but worse" stays one thought.
var joinAfterBreaker = set("worse", "worst", "even", "bigger", "peor", "more", "mas")

// parse cuts a body into folded words and clauses.
func parse(body string) text {
	t := text{body: body}
	type raw struct {
		token
		sep bool // sentence punctuation before this word
	}
	var words []raw
	var b strings.Builder
	start := -1
	sep := false
	flush := func(end int) {
		if b.Len() == 0 {
			return
		}
		words = append(words, raw{token{w: b.String(), start: start, end: end}, sep})
		b.Reset()
		start = -1
		sep = false
	}
	for i, r := range body {
		if r == utf8.RuneError {
			flush(i)
			continue
		}
		s, keep := fold(r)
		switch {
		case keep:
			if s != "" {
				if start < 0 {
					start = i
				}
				b.WriteString(s)
			}
		case r == '.' && b.Len() > 0 && isDigitWord(b.String()) && i+1 < len(body) && body[i+1] >= '0' && body[i+1] <= '9':
			b.WriteByte('.') // 38.5
		default:
			flush(i)
			if sentenceEnd(r) {
				sep = true
			}
		}
	}
	flush(len(body))
	clause := 0
	brk := false
	for i, w := range words {
		if w.sep {
			brk = true
		}
		if clauseBreakers[w.w] {
			if i+1 < len(words) && joinAfterBreaker[words[i+1].w] && !words[i+1].sep {
				continue
			}
			brk = true
			continue
		}
		if brk && len(t.toks) > 0 {
			clause++
		}
		brk = false
		w.clause = clause
		w.near = nearWords(w.w)
		t.toks = append(t.toks, w.token)
	}
	for i := 0; i < len(t.toks); {
		j := i
		for j < len(t.toks) && t.toks[j].clause == t.toks[i].clause {
			j++
		}
		for k := i; k < j; k++ {
			t.toks[k].lo, t.toks[k].hi = i, j
		}
		i = j
	}
	return t
}

func isDigitWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return s != ""
}

// words quotes the patient's words from token i to token j inclusive.
func (t *text) words(i, j int) string {
	return strings.TrimSpace(t.body[t.toks[i].start:t.toks[j].end])
}

// editDistanceAtMost1 reports whether a and b differ by at most one
// insertion, deletion, substitution or adjacent transposition of a rune.
// It does not allocate: it runs for every word against every typo-tolerant
// sign word.
func editDistanceAtMost1(a, b string) bool {
	if a == b {
		return true
	}
	la, lb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	if la-lb > 1 || lb-la > 1 {
		return false
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ra, na := utf8.DecodeRuneInString(a[i:])
		rb, nb := utf8.DecodeRuneInString(b[j:])
		if ra != rb {
			break
		}
		i, j = i+na, j+nb
	}
	a, b = a[i:], b[j:]
	_, na := utf8.DecodeRuneInString(a)
	_, nb := utf8.DecodeRuneInString(b)
	switch {
	case la > lb:
		return a[na:] == b
	case la < lb:
		return a == b[nb:]
	}
	if a[na:] == b[nb:] {
		return true
	}
	ra1, n1 := utf8.DecodeRuneInString(a)
	ra2, n2 := utf8.DecodeRuneInString(a[n1:])
	rb1, m1 := utf8.DecodeRuneInString(b)
	rb2, m2 := utf8.DecodeRuneInString(b[m1:])
	return n2 > 0 && m2 > 0 && ra1 == rb2 && ra2 == rb1 && a[n1+n2:] == b[m1+m2:]
}
