package inbound

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"
)

// Seeds live in testdata/fuzz/FuzzVerifyUnsubscribe/ too.

// FuzzVerifyUnsubscribe checks that no token but the one signed for a
// patient, clinic and expiry verifies: arbitrary strings are refused (or,
// if one ever verified, it must be exactly the canonical signed token), a
// signed token verifies until it expires, and flipping any bit of it
// breaks it.
func FuzzVerifyUnsubscribe(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	good := SignUnsubscribe(secret, 42, 7, now.Add(time.Hour))
	f.Add(good, int64(42), int64(7), int64(3600), uint16(0))
	f.Add(good[:len(good)-1]+"B", int64(1), int64(1), int64(-1), uint16(319))
	f.Add("not-a-token", int64(-1), int64(0), int64(400*24*3600), uint16(100))
	f.Add("", int64(0), int64(-9), int64(0), uint16(65535))
	f.Fuzz(func(t *testing.T, token string, patientID, clinicID, ttl int64, bit uint16) {
		if p, c, err := VerifyUnsubscribe(secret, token, now); err == nil {
			b, derr := base64.RawURLEncoding.Strict().DecodeString(token)
			if derr != nil || len(b) != tokenLen {
				t.Fatalf("%q verified but does not decode strictly: %v", token, derr)
			}
			exp := time.Unix(int64(binary.BigEndian.Uint64(b[16:])), 0)
			if SignUnsubscribe(secret, p, c, exp) != token {
				t.Fatalf("%q verified as patient %d clinic %d but is not the token signed for them", token, p, c)
			}
		} else if err != ErrBadToken {
			t.Fatalf("VerifyUnsubscribe: %v, want ErrBadToken", err)
		}

		ttl %= 1000 * 24 * 3600
		tok := SignUnsubscribe(secret, patientID, clinicID, now.Add(time.Duration(ttl)*time.Second))
		p, c, err := VerifyUnsubscribe(secret, tok, now)
		switch {
		case ttl >= 0 && (err != nil || p != patientID || c != clinicID):
			t.Fatalf("signed token for %d/%d valid %ds: %d/%d, %v", patientID, clinicID, ttl, p, c, err)
		case ttl < 0 && err == nil:
			t.Fatalf("token expired %ds ago verified", -ttl)
		}
		b, _ := base64.RawURLEncoding.DecodeString(tok)
		b[int(bit)%(8*tokenLen)/8] ^= 1 << (bit % 8)
		if _, _, err := VerifyUnsubscribe(secret, base64.RawURLEncoding.EncodeToString(b), now); err == nil {
			t.Fatalf("token with bit %d flipped verified", int(bit)%(8*tokenLen))
		}
		if _, _, err := VerifyUnsubscribe([]byte("another secret"), tok, now); err == nil {
			t.Fatal("token verified under another secret")
		}
	})
}
