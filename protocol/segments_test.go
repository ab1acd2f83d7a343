package protocol

import (
	"strings"
	"testing"
)

func TestSegments(t *testing.T) {
	t.Parallel()
	a := func(n int) string { return strings.Repeat("a", n) }
	zh := func(n int) string { return strings.Repeat("ж", n) }
	tests := []struct {
		name    string
		in      string
		n       int
		unicode bool
	}{
		{"empty", "", 0, false},
		{"short", "hello", 1, false},
		{"160 fits one", a(160), 1, false},
		{"161 needs two", a(161), 2, false},
		{"306 fits two", a(306), 2, false},
		{"307 needs three", a(307), 3, false},
		{"extension counts double", a(159) + "€", 2, false},
		{"80 braces fit one", strings.Repeat("{", 80), 1, false},
		{"81 braces need two", strings.Repeat("{", 81), 2, false},
		{"every extension char", "\f^{}\\[~]|€", 1, false},
		{"escape pair never split", a(152) + "[" + a(152), 3, false},
		{"gsm accents and greek", "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà¤", 1, false},
		{"newlines are gsm", "a\nb\rc", 1, false},
		{"lower-case c cedilla is not gsm", "garçon", 1, true},
		{"i diaeresis is not gsm", "naïve", 1, true},
		{"curly apostrophe", "it’s", 1, true},
		{"em dash", "a — b", 1, true},
		{"backtick", "`", 1, true},
		{"70 cyrillic fit one", zh(70), 1, true},
		{"71 cyrillic need two", zh(71), 2, true},
		{"134 cyrillic fit two", zh(134), 2, true},
		{"135 cyrillic need three", zh(135), 3, true},
		{"emoji is two units", a(68) + "😀", 1, true},
		{"emoji tips over", a(69) + "😀", 2, true},
		{"surrogate pair never split", zh(66) + "😀" + zh(66), 3, true},
		{"invalid utf-8", "a\xffb", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, unicode := Segments(tc.in)
			if n != tc.n || unicode != tc.unicode {
				t.Errorf("Segments(%q) = %d, %v; want %d, %v", tc.in, n, unicode, tc.n, tc.unicode)
			}
		})
	}
}
