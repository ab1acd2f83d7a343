package web

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"golang.org/x/crypto/bcrypt"

	"github.com/aftercare/aftercare"
)

// Password policy: at least MinPasswordLen characters, at most
// MaxPasswordLen bytes (bcrypt reads only 72, so longer ones are refused
// rather than silently cut), and a zxcvbn strength score of at least
// MinPasswordScore, which refuses common passwords, dictionary words,
// repeats ("aaaaaaaaaaaa", "abcabcabcabc"), sequences, keyboard walks,
// dates, and passwords built from the user's own email or clinic name.
const (
	MinPasswordLen   = 12
	MaxPasswordLen   = 72
	MinPasswordScore = 3
)

// CheckPassword applies the password policy to a new password. userInputs
// are words an attacker would try first for this user: their email, name,
// the clinic's name. The error is an EINVALID field error on "password"
// that tells the user what to change.
func CheckPassword(password string, userInputs ...string) error {
	if !utf8.ValidString(password) {
		return aftercare.FieldError("password", "must be valid text")
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return aftercare.FieldError("password", "must be at least %d characters; a passphrase of several unrelated words is easiest to remember", MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return aftercare.FieldError("password", "must be at most %d bytes", MaxPasswordLen)
	}
	res := zxcvbn.PasswordStrength(password, passwordInputs(userInputs))
	if res.Score >= MinPasswordScore {
		return nil
	}
	return aftercare.FieldError("password", "is too easy to guess: %s; choose a longer passphrase of several unrelated words", weakness(res))
}

// passwordInputs expands the user's words: an email also gives its local
// part and the pieces of it and of names ("ana.lopez@glow.example" gives
// ana, lopez, glow), all lower-cased.
func passwordInputs(in []string) []string {
	var out []string
	seen := map[string]bool{"aftercare": true}
	out = append(out, "aftercare")
	add := func(s string) {
		s = strings.ToLower(strings.TrimSpace(s))
		if len(s) >= 3 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, s := range in {
		add(s)
		local, domain, _ := strings.Cut(s, "@")
		add(local)
		for _, f := range strings.FieldsFunc(local+" "+domain, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(f)
		}
	}
	return out
}

// weakness says in words why zxcvbn found a password weak: the pattern of
// its longest recognised part.
func weakness(res zxcvbn.Result) string {
	pattern, dict, longest := "", "", 0
	for _, m := range res.Sequence {
		if m.Pattern == "bruteforce" {
			continue
		}
		if n := utf8.RuneCountInString(m.Token); n > longest {
			pattern, dict, longest = m.Pattern, m.DictionaryName, n
		}
	}
	switch pattern {
	case "repeat":
		return "it repeats characters or words (like aaaa or abcabc)"
	case "sequence":
		return "it contains a sequence like abcd or 1234"
	case "spatial":
		return "it contains a keyboard pattern like qwerty or asdf"
	case "date":
		return "it contains a date"
	case "dictionary":
		if dict == "user_inputs" {
			return "it contains your email, your name or the clinic's name"
		}
		return "it is, or is built from, a common password or word"
	}
	return fmt.Sprintf("it would be guessed quickly (strength %d of 4, %d needed)", res.Score, MinPasswordScore)
}

// HashPassword applies the password policy (see CheckPassword; userInputs
// are the user's email, name and clinic name) and returns the password's
// bcrypt hash at bcrypt.DefaultCost.
func HashPassword(password string, userInputs ...string) (string, error) {
	if err := CheckPassword(password, userInputs...); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
