package enroll

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/aftercare/aftercare/store"
)

// Patient page links (issue 14): each enrollment gets a random token in a
// link (public_url + "/c/" + token); the store keeps only HashToken of it.

// LinkLifetime is how long after the treatment a page link works: the
// advice runs to day 14 and the booking reminders to day 49 (the 4-6-week
// window and its last call, stale a week later), so 90 days covers every
// text that points to the page with a margin for a late reader, while a
// link in an old text does not open a patient's page for ever. The
// booking redirect keeps working after expiry (it shows no patient data).
const LinkLifetime = 90 * 24 * time.Hour

// tokenBytes is the token's entropy: 128 bits, 22 base64url characters
// (short, because it goes in texts).
const tokenBytes = 16

// NewToken returns a new random page token.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is what the store keeps of a token: HMAC-SHA256 under the
// daemon's secret, hex. Without the key, a copy of the database cannot
// turn a stored hash into a working link.
func HashToken(key []byte, token string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// ValidToken reports whether s has a token's shape (checked before any
// lookup, so junk never reaches the database).
func ValidToken(s string) bool {
	if len(s) != 22 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// CareURL is the page link of token under the public base URL.
func CareURL(publicURL, token string) string {
	return strings.TrimRight(publicURL, "/") + "/c/" + token
}

// previewToken stands in for a token in previews: the same length, so
// segment counts are the real ones.
const previewToken = "xxxxxxxxxxxxxxxxxxxxxx"

// newLink makes an enrollment's link: the URL for its texts and what the
// store keeps. Without a key or a public URL there is no link.
func (s *Service) newLink(treated time.Time) (string, *store.NewLink, error) {
	if len(s.LinkKey) == 0 || s.PublicURL == "" {
		return "", nil, nil
	}
	tok, err := NewToken()
	if err != nil {
		return "", nil, err
	}
	return CareURL(s.PublicURL, tok), &store.NewLink{TokenHash: HashToken(s.LinkKey, tok), ExpiresAt: treated.Add(LinkLifetime)}, nil
}
