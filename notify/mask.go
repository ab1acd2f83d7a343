package notify

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Mask hides most of a phone number or email address so that it can appear
// in logs and console output without identifying the patient:
//
//	+14155550123         -> +1415*****23
//	jane.doe@example.com -> j***@example.com
//
// Phone numbers keep their "+", up to four leading digits (country and area
// code) and the last two digits; at least half of the digits (rounded down)
// are always hidden. Formatting characters are dropped; a scheme such as
// "whatsapp:" is kept. Email addresses keep the first character of the
// local part and the domain; a display name ("Jane <jane@example.com>") is
// dropped. Anything else keeps its first character only.
func Mask(addr string) string {
	s := strings.TrimSpace(addr)
	if s == "" {
		return ""
	}
	if strings.Contains(s, "@") {
		return maskEmail(s)
	}
	if scheme, rest, ok := strings.Cut(s, ":"); ok && isPhoneLike(rest) && isScheme(scheme) {
		return scheme + ":" + maskPhone(rest)
	}
	if isPhoneLike(s) {
		return maskPhone(s)
	}
	_, size := utf8.DecodeRuneInString(s)
	return s[:size] + "***"
}

func maskEmail(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		s = a.Address
	}
	i := strings.LastIndexByte(s, '@')
	local, domain := s[:i], s[i+1:]
	if local == "" {
		return "***@" + domain
	}
	_, size := utf8.DecodeRuneInString(local)
	return local[:size] + "***@" + domain
}

// isPhoneLike reports whether s consists of digits and the usual phone
// formatting characters and has at least three digits.
func isPhoneLike(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return false
		}
	}
	return digits >= 3
}

func isScheme(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

func maskPhone(s string) string {
	var digits []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits = append(digits, s[i])
		}
	}
	n := len(digits)
	tail := 0
	if n >= 6 {
		tail = 2
	}
	head := max(0, min(4, (n+1)/2-tail))
	var b strings.Builder
	if strings.HasPrefix(s, "+") {
		b.WriteByte('+')
	}
	b.Write(digits[:head])
	b.WriteString(strings.Repeat("*", n-head-tail))
	b.Write(digits[n-tail:])
	return b.String()
}
