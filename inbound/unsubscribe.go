package inbound

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Unsubscribe tokens name a patient and an expiry, signed with HMAC-SHA256:
// base64url(patient id (8 bytes) | clinic id (8) | expiry unix seconds (8) |
// first 16 bytes of the MAC). They carry no personal data.
const tokenLen = 8 + 8 + 8 + 16

// UnsubscribeTTL is how long an unsubscribe link works (a patient may open
// an old email).
const UnsubscribeTTL = 400 * 24 * time.Hour

// ErrBadToken is returned for a forged, damaged or expired token.
var ErrBadToken = errors.New("invalid or expired unsubscribe link")

// SignUnsubscribe returns a token for patientID of clinicID valid until exp.
func SignUnsubscribe(secret []byte, patientID, clinicID int64, exp time.Time) string {
	b := make([]byte, 24, tokenLen)
	binary.BigEndian.PutUint64(b[0:], uint64(patientID))
	binary.BigEndian.PutUint64(b[8:], uint64(clinicID))
	binary.BigEndian.PutUint64(b[16:], uint64(exp.Unix()))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("unsubscribe:"))
	mac.Write(b)
	b = append(b, mac.Sum(nil)[:16]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// VerifyUnsubscribe checks a token at now and returns its patient and clinic.
func VerifyUnsubscribe(secret []byte, token string, now time.Time) (patientID, clinicID int64, err error) {
	// One spelling per token: exactly the canonical length (the decoder
	// skips \r and \n, so without this a token with line breaks in it
	// verified), and Strict so the unused bits of the last character must
	// be zero (otherwise 16 variants of it all verify).
	if len(token) != base64.RawURLEncoding.EncodedLen(tokenLen) {
		return 0, 0, ErrBadToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) != tokenLen {
		return 0, 0, ErrBadToken
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("unsubscribe:"))
	mac.Write(b[:24])
	if !hmac.Equal(mac.Sum(nil)[:16], b[24:]) {
		return 0, 0, ErrBadToken
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[16:])), 0)
	if now.After(exp) {
		return 0, 0, ErrBadToken
	}
	return int64(binary.BigEndian.Uint64(b[0:])), int64(binary.BigEndian.Uint64(b[8:])), nil
}
