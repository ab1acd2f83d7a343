package replies

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// A pattern is a small, readable word pattern matched on the folded words
// of one clause. Elements are separated by spaces:
//
//	word        the word itself; words of 7 letters or more also match
//	            with one typo (insertion, deletion, substitution or swap),
//	            unless the patient's word is a common word (noTypo)
//	stem*       any word starting with stem (no typos)
//	=word       the word exactly, no typos
//	a|b|c*      any of the alternatives
//	...         up to four other words of the same clause, none of them a
//	            negation ("throat ... swollen" misses "throat is not swollen")
//	!a|b        first element: the word before must not be one of these;
//	            elsewhere: the next word must not be one of these
//
// Multi-word alternatives are written as separate elements.
type pattern struct {
	src   string
	elems []elem
}

type elem struct {
	exact    map[string]bool // whole words
	typo     map[string]bool // whole words that also match with one typo
	prefixes []string
	gap      bool
	not      bool
}

// minTypoLen is the shortest listed word that also matches with one typo.
// Shorter words collide with too many everyday words (fever/never,
// hives/gives, burns/turns), so their common misspellings are listed.
const minTypoLen = 7

// gapMax is how many words "..." may skip.
const gapMax = 4

// typoWords are all the words that match with one typo, across every
// pattern: a reply's word is compared with them once (see parse).
var typoWords = map[string]bool{}

func compile(src string) pattern {
	p := pattern{src: src}
	for i, f := range strings.Fields(src) {
		if f == "..." {
			if i == 0 {
				panic(fmt.Sprintf("replies: pattern %q starts with a gap", src))
			}
			p.elems = append(p.elems, elem{gap: true})
			continue
		}
		e := elem{exact: map[string]bool{}, typo: map[string]bool{}}
		if strings.HasPrefix(f, "!") {
			e.not = true
			f = f[1:]
		}
		for _, a := range strings.Split(f, "|") {
			switch {
			case strings.HasSuffix(a, "*"):
				e.prefixes = append(e.prefixes, strings.TrimSuffix(a, "*"))
			case strings.HasPrefix(a, "="):
				e.exact[a[1:]] = true
			case len(a) >= minTypoLen:
				e.exact[a] = true
				e.typo[a] = true
				typoWords[a] = true
			default:
				e.exact[a] = true
			}
			if a == "" || a == "*" || a == "=" {
				panic(fmt.Sprintf("replies: empty term in pattern %q", src))
			}
		}
		p.elems = append(p.elems, e)
	}
	if len(p.elems) == 0 || p.elems[len(p.elems)-1].gap {
		panic(fmt.Sprintf("replies: bad pattern %q", src))
	}
	return p
}

func compileAll(srcs ...string) []pattern {
	ps := make([]pattern, len(srcs))
	for i, s := range srcs {
		ps[i] = compile(s)
	}
	return ps
}

// matches reports whether a reply's word fits the element: the word
// itself, a word it starts with, or a typo-tolerant word it is one typo
// away from (tk.near, worked out once per word).
func (e *elem) matches(tk *token) bool {
	if e.exact[tk.w] {
		return true
	}
	for _, p := range e.prefixes {
		if strings.HasPrefix(tk.w, p) {
			return true
		}
	}
	for _, n := range tk.near {
		if e.typo[n] {
			return true
		}
	}
	return false
}

// nearWords lists the typo-tolerant words w is one typo away from, unless
// w is an everyday word itself.
func nearWords(w string) []string {
	if len(w) < minTypoLen-1 || noTypo[w] || typoWords[w] {
		return nil
	}
	var near []string
	n := utf8.RuneCountInString(w)
	byLen := typoWordsByLen()
	for l := n - 1; l <= n+1; l++ {
		for _, t := range byLen[l] {
			if editDistanceAtMost1(w, t) {
				near = append(near, t)
			}
		}
	}
	return near
}

// typoWordsByLen is typoWords by length in runes, each list in a fixed
// order, built on first use (after every package-level pattern is
// compiled).
var typoWordsByLen = sync.OnceValue(func() map[int][]string {
	m := map[int][]string{}
	for w := range typoWords {
		n := utf8.RuneCountInString(w)
		m[n] = append(m[n], w)
	}
	for _, l := range m {
		slices.Sort(l)
	}
	return m
})

// match finds the pattern starting at token i, within i's clause. It
// returns the index of the last word matched.
func (p *pattern) match(t *text, i int) (int, bool) {
	lo, hi := t.toks[i].lo, t.toks[i].hi
	ei := 0
	if p.elems[0].not {
		if i > lo && p.elems[0].matches(&t.toks[i-1]) {
			return 0, false
		}
		ei = 1
	}
	return p.matchFrom(t, ei, i, i, hi)
}

func (p *pattern) matchFrom(t *text, ei, pos, first, hi int) (int, bool) {
	if ei == len(p.elems) {
		return pos - 1, pos > first
	}
	e := &p.elems[ei]
	switch {
	case e.gap:
		for g := 0; g <= gapMax && pos+g <= hi; g++ {
			if g > 0 && negators[t.toks[pos+g-1].w] {
				break
			}
			if end, ok := p.matchFrom(t, ei+1, pos+g, first, hi); ok {
				return end, true
			}
		}
		return 0, false
	case e.not:
		if pos < hi && e.matches(&t.toks[pos]) {
			return 0, false
		}
		return p.matchFrom(t, ei+1, pos, first, hi)
	default:
		if pos < hi && e.matches(&t.toks[pos]) {
			return p.matchFrom(t, ei+1, pos+1, first, hi)
		}
		return 0, false
	}
}

// findIn reports the first of the patterns that starts and ends inside
// the token range [lo, hi) of one clause.
func findIn(t *text, ps []pattern, lo, hi int) (start, end int, ok bool) {
	for i := lo; i < hi; i++ {
		for k := range ps {
			if e, ok := ps[k].match(t, i); ok && e < hi {
				return i, e, true
			}
		}
	}
	return 0, 0, false
}
