package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aftercare/aftercare/config"
)

// TestDispatchDefaultsDoNotThrottleTexts: by default the daemon keeps
// Twilio's default account concurrency in flight and puts no rate of its
// own on texts (Twilio queues per sender); emails keep a small window.
func TestDispatchDefaultsDoNotThrottleTexts(t *testing.T) {
	t.Parallel()
	d := config.Default().Dispatch
	if d.Concurrency != 100 || d.SMSRate != 0 || d.SenderRate != 0 || d.EmailConcurrency != 0 {
		t.Fatalf("dispatch defaults %+v", d)
	}
}

// TestSenderLimits: per-sender limits load from the file and bad ones are
// reported together.
func TestSenderLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(`
dispatch:
  senders:
    "+14155550100": {rate: 1, concurrency: 4}
    MG0123456789abcdef0123456789abcdef: {rate: 30}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(good, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Dispatch.Senders["+14155550100"]; l.Rate != 1 || l.Concurrency != 4 {
		t.Fatalf("sender limit %+v", l)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`
dispatch:
  email_concurrency: 500
  sender_rate: -1
  senders:
    "+14155550100": {rate: -1}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.Load(bad, func(string) string { return "" })
	if err == nil {
		t.Fatal("bad sender limits accepted")
	}
	for _, want := range []string{"dispatch.email_concurrency", "dispatch.sender_rate", "dispatch.senders.+14155550100"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
