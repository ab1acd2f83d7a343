package protocol

import (
	"strings"
	"unicode/utf16"
)

// gsmBasic is the GSM 03.38 default alphabet (one septet each), without the
// escape code itself.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension is the GSM 03.38 extension table: each costs two septets
// (the escape code and the character).
const gsmExtension = "\f^{}\\[~]|€"

// gsmCost maps each GSM-7 character to its septets.
var gsmCost = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// SMS segment sizes: a single message, and each part of a concatenated one
// (the rest of the 140 bytes carries the concatenation header).
const (
	gsmSingle  = 160
	gsmPart    = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// Segments returns how many SMS segments s takes and whether it needs UCS-2
// (unicode) encoding. GSM-7 texts take 160 septets in one segment, else 153
// per segment, extension characters ({ } [ ] ~ \ | ^ € and form feed)
// counting two; a text with any other character goes as UCS-2, 70 UTF-16
// units in one segment, else 67 per segment. A character (an escape pair, a
// surrogate pair) is never split across segments. The empty text is 0
// segments.
func Segments(s string) (n int, unicode bool) {
	if s == "" {
		return 0, false
	}
	total := 0
	for _, r := range s {
		c, ok := gsmCost[r]
		if !ok {
			unicode = true
			break
		}
		total += c
	}
	if !unicode {
		if total <= gsmSingle {
			return 1, false
		}
		return pack(s, gsmPart, func(r rune) int { return gsmCost[r] }), false
	}
	units := 0
	for _, r := range s {
		units += ucs2Cost(r)
	}
	if units <= ucs2Single {
		return 1, true
	}
	return pack(s, ucs2Part, ucs2Cost), true
}

// ucs2Cost is the UTF-16 units of r (two for a surrogate pair).
func ucs2Cost(r rune) int {
	if n := utf16.RuneLen(r); n > 0 {
		return n
	}
	return 1 // not reachable from a string range: invalid bytes come as U+FFFD
}

// pack counts the segments of size needed for s when no character may
// straddle two segments.
func pack(s string, size int, cost func(rune) int) int {
	n, used := 1, 0
	for _, r := range s {
		c := cost(r)
		if used+c > size {
			n++
			used = 0
		}
		used += c
	}
	return n
}

// smsPunctuation maps typographic punctuation and spaces to their GSM-7
// look-alikes. One curly apostrophe (a clinic called "O’Brien’s") would
// otherwise send every text as UCS-2: 70 characters a segment instead of
// 160, and about three times the cost.
var smsPunctuation = strings.NewReplacer(
	"\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'", "\u2032", "'", "\u00b4", "'", "`", "'",
	"\u2039", "'", "\u203a", "'",
	"\u201c", `"`, "\u201d", `"`, "\u201e", `"`, "\u201f", `"`, "\u2033", `"`, "\u00ab", `"`, "\u00bb", `"`,
	"\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2015", "-", "\u2212", "-",
	"\u2026", "...", "\u2022", "-", "\u00b7", "-",
	"\u00a0", " ", "\u2002", " ", "\u2003", " ", "\u2004", " ", "\u2005", " ", "\u2006", " ", "\u2007", " ",
	"\u2008", " ", "\u2009", " ", "\u200a", " ", "\u202f", " ", "\u205f", " ", "\u3000", " ", "\t", " ",
	// Invisible characters that only cost: soft hyphen, zero-width space,
	// word joiner, byte order mark. (Joiners inside names are kept.)
	"\u00ad", "", "\u200b", "", "\u2060", "", "\ufeff", "",
)

// NormalizeSMS prepares a rendered text for sending: typographic quotes,
// dashes, ellipses, bullets and unusual spaces become their GSM-7
// look-alikes, runs of spaces fold to one, invalid UTF-8 is dropped and
// the ends are trimmed. Letters
// are never changed: a name written in a script GSM-7 lacks ("Zoë", "Ольга",
// "陈") is kept as written, and the text then goes as UCS-2.
func NormalizeSMS(s string) string {
	// Invalid bytes are dropped first, so removing a character can never
	// join the bytes around it into a new one.
	s = smsPunctuation.Replace(strings.ToValidUTF8(s, ""))
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r == ' ' {
			if !space {
				b.WriteRune(r)
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}
