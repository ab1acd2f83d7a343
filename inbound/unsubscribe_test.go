package inbound

import (
	"testing"
	"time"
)

func TestUnsubscribeToken(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tok := SignUnsubscribe(secret, 42, 7, now.Add(time.Hour))
	p, c, err := VerifyUnsubscribe(secret, tok, now)
	if err != nil || p != 42 || c != 7 {
		t.Fatalf("verify = %d %d %v", p, c, err)
	}
	tampered := []byte(tok)
	tampered[3] ^= 1
	tests := map[string]struct {
		secret []byte
		token  string
		at     time.Time
	}{
		"expired":      {secret, tok, now.Add(2 * time.Hour)},
		"other secret": {[]byte("another secret of thirty-two b!!"), tok, now},
		"tampered":     {secret, string(tampered), now},
		"garbage":      {secret, "not-a-token", now},
		"empty":        {secret, "", now},
		"too long":     {secret, tok + tok + tok, now},
	}
	for name, tt := range tests {
		if _, _, err := VerifyUnsubscribe(tt.secret, tt.token, tt.at); err != ErrBadToken {
			t.Errorf("%s: err = %v, want ErrBadToken", name, err)
		}
	}
}
