package replies

import (
	"fmt"
	"strings"
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
	terms []term
	gap   bool
	not   bool
}

type term struct {
	word   string
	prefix bool
	typo   bool
}

// minTypoLen is the shortest listed word that also matches with one typo.
// Shorter words collide with too many everyday words (fever/never,
// hives/gives, burns/turns), so their common misspellings are listed.
const minTypoLen = 7

// gapMax is how many words "..." may skip.
const gapMax = 4

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
		e := elem{}
		if strings.HasPrefix(f, "!") {
			e.not = true
			f = f[1:]
		}
		for _, a := range strings.Split(f, "|") {
			t := term{}
			switch {
			case strings.HasSuffix(a, "*"):
				t.word, t.prefix = strings.TrimSuffix(a, "*"), true
			case strings.HasPrefix(a, "="):
				t.word = a[1:]
			default:
				t.word = a
				t.typo = len(a) >= minTypoLen
			}
			if t.word == "" {
				panic(fmt.Sprintf("replies: empty term in pattern %q", src))
			}
			e.terms = append(e.terms, t)
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

func (t term) matches(w string) bool {
	if t.prefix {
		return strings.HasPrefix(w, t.word)
	}
	if w == t.word {
		return true
	}
	return t.typo && len(w) >= minTypoLen-1 && !noTypo[w] && editDistanceAtMost1(w, t.word)
}

func (e elem) matches(w string) bool {
	for _, t := range e.terms {
		if t.matches(w) {
			return true
		}
	}
	return false
}

// match finds the pattern starting at token i, within i's clause. It
// returns the index of the last word matched.
func (p *pattern) match(t *text, i int) (int, bool) {
	lo, hi := t.toks[i].lo, t.toks[i].hi
	ei := 0
	if p.elems[0].not {
		if i > lo && p.elems[0].matches(t.toks[i-1].w) {
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
	e := p.elems[ei]
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
		if pos < hi && e.matches(t.toks[pos].w) {
			return 0, false
		}
		return p.matchFrom(t, ei+1, pos, first, hi)
	default:
		if pos < hi && e.matches(t.toks[pos].w) {
			return p.matchFrom(t, ei+1, pos+1, first, hi)
		}
		return 0, false
	}
}

// find reports whether any of the patterns occurs in the token range
// [lo, hi), ending at or before maxEnd.
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
