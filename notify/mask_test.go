package notify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"   ", ""},
		{"+14155550123", "+1415*****23"},
		{"+1 (415) 555-0123", "+1415*****23"},
		{"+447911123456", "+4479******56"},
		{"+3531234567", "+353*****67"},
		{"4155550123", "415*****23"},
		{"+123456", "+1***56"},
		{"12345", "123**"},
		{"112", "11*"},
		{"whatsapp:+14155550123", "whatsapp:+1415*****23"},
		{"jane.doe@example.com", "j***@example.com"},
		{"j@example.com", "j***@example.com"},
		{"Jane Doe <jane@example.com>", "j***@example.com"},
		{"élodie@example.fr", "é***@example.fr"},
		{"@example.com", "***@example.com"},
		{"odd@name@example.com", "o***@example.com"},
		{"Jane Doe", "J***"},
		{"MG1234567890", "M***"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := Mask(tt.in); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzMask checks that Mask never panics, shows at most one character of an
// email's local part and never more than half (rounded up) of a phone number's digits.
func FuzzMask(f *testing.F) {
	for _, s := range []string{"+14155550123", "jane@example.com", "x", "+1", "a:1234", "*@0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Mask(s)
		trimmed := strings.TrimSpace(s)
		switch {
		case trimmed == "":
			if got != "" {
				t.Errorf("Mask(%q) = %q, want empty", s, got)
			}
		case strings.Contains(trimmed, "@"):
			local, _, ok := strings.Cut(got, "***@")
			if !ok || utf8.RuneCountInString(local) > 1 {
				t.Errorf("Mask(%q) = %q, want at most one rune before ***@", s, got)
			}
		case isPhoneLike(trimmed):
			in, out := countDigits(trimmed), countDigits(got)
			if out > (in+1)/2 {
				t.Errorf("Mask(%q) = %q shows %d of %d digits", s, got, out, in)
			}
		}
	})
}

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}
