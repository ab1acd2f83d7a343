package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsNeedNoFile(t *testing.T) {
	t.Parallel()
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "aftercare.db" || c.Listen != "127.0.0.1:8080" || c.Twilio.Enabled() || c.SMTP.Enabled() || !c.SMS.ConfirmOptOut() {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestPasswordResetTTL(t *testing.T) {
	t.Parallel()
	c, err := Load("", env(nil))
	if err != nil || c.Web.PasswordResetTTL != 30*time.Minute {
		t.Fatalf("default reset link lifetime = %v, %v", c.Web.PasswordResetTTL, err)
	}
	c, err = Load("", env(map[string]string{"AFTERCARE_PASSWORD_RESET_TTL": "15m"}))
	if err != nil || c.Web.PasswordResetTTL != 15*time.Minute {
		t.Fatalf("from the environment = %v, %v", c.Web.PasswordResetTTL, err)
	}
}

func TestOptOutConfirmationSetting(t *testing.T) {
	t.Parallel()
	c, err := Load("testdata/good.yaml", env(map[string]string{"TWILIO_AUTH_TOKEN": "tok", "SMTP_PASSWORD": "pw"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMS.ConfirmOptOut() {
		t.Fatal("sms.opt_out_confirmation: false in the file still confirms")
	}
	c, err = Load("testdata/good.yaml", env(map[string]string{"TWILIO_AUTH_TOKEN": "tok", "SMTP_PASSWORD": "pw", "AFTERCARE_SMS_OPT_OUT_CONFIRMATION": "true"}))
	if err != nil || !c.SMS.ConfirmOptOut() {
		t.Fatalf("environment override: %v %v", c.SMS, err)
	}
	if _, err := Load("", env(map[string]string{"AFTERCARE_SMS_OPT_OUT_CONFIRMATION": "sometimes"})); err == nil {
		t.Fatal("a non-boolean value was accepted")
	}
}

func TestGoodFileWithSecretsFromEnvAndFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load("testdata/good.yaml", env(map[string]string{
		"TWILIO_AUTH_TOKEN":  "tok",
		"SMTP_PASSWORD_FILE": pw,
		"AFTERCARE_LISTEN":   "127.0.0.1:9999",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Twilio.AuthToken != "tok" || c.SMTP.Password != "s3cret" || c.Listen != "127.0.0.1:9999" || c.Dispatch.SMSRate != 5 || c.QuietHours.Start != "21:30" {
		t.Fatalf("loaded = %+v", c)
	}
	r := c.Redacted()
	if r.Twilio.AuthToken != "[redacted]" || r.SMTP.Password != "[redacted]" || c.SMTP.Password != "s3cret" {
		t.Fatalf("redaction: %+v / original %q", r, c.SMTP.Password)
	}
}

func TestBadConfigs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		env  map[string]string
		want string
	}{
		{"unknown key", "testdata/unknown_key.yaml", nil, "acount_sid"},
		{"missing file", "testdata/nope.yaml", nil, "read config"},
		{"bad listen", "", map[string]string{"AFTERCARE_LISTEN": "8080"}, "listen"},
		{"bad public url", "", map[string]string{"AFTERCARE_PUBLIC_URL": "example.com"}, "public_url"},
		{"twilio without token", "", map[string]string{"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_FROM": "+14155550100"}, "twilio.auth_token"},
		{"twilio bad from", "", map[string]string{"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "x", "TWILIO_FROM": "555"}, "twilio.from"},
		{"smtp plain to remote", "", map[string]string{"SMTP_HOST": "mail.example.com", "SMTP_TLS": "none", "SMTP_FROM": "a@example.com"}, "smtp.tls"},
		{"smtp no from", "", map[string]string{"SMTP_HOST": "127.0.0.1"}, "smtp.from"},
		{"smtp bad port", "", map[string]string{"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "x"}, "SMTP_PORT"},
		{"both secret and file", "", map[string]string{"SMTP_PASSWORD": "a", "SMTP_PASSWORD_FILE": "/x"}, "both"},
		{"secret file missing", "", map[string]string{"AFTERCARE_SECRET_FILE": "/nonexistent/secret"}, "AFTERCARE_SECRET_FILE"},
		{"bad log level", "", map[string]string{"AFTERCARE_LOG_LEVEL": "loud"}, "log.level"},
		{"bad proxy header", "", map[string]string{"AFTERCARE_TRUSTED_PROXY_HEADER": "X Forwarded: For"}, "web.trusted_proxy_header"},
		{"idle not a duration", "", map[string]string{"AFTERCARE_SESSION_IDLE": "30"}, "AFTERCARE_SESSION_IDLE"},
		{"idle too short", "", map[string]string{"AFTERCARE_SESSION_IDLE": "10s"}, "web.session_idle"},
		{"lifetime under idle", "", map[string]string{"AFTERCARE_SESSION_IDLE": "2h", "AFTERCARE_SESSION_LIFETIME": "1h"}, "web.session_lifetime"},
		{"metrics on the main listener", "", map[string]string{"AFTERCARE_METRICS_LISTEN": "127.0.0.1:8080"}, "metrics.listen"},
		{"short metrics token", "", map[string]string{"AFTERCARE_METRICS_TOKEN": "abc"}, "metrics.token"},
		{"reset link ttl not a duration", "", map[string]string{"AFTERCARE_PASSWORD_RESET_TTL": "soon"}, "AFTERCARE_PASSWORD_RESET_TTL"},
		{"reset link ttl too long", "", map[string]string{"AFTERCARE_PASSWORD_RESET_TTL": "48h"}, "web.password_reset_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.file, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestBadQuietHoursInFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("quiet_hours: {start: \"9pm\", end: \"08:00\"}\n"), 0o600)
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "quiet_hours.start") {
		t.Fatalf("err = %v", err)
	}
}

func TestSignInAndMetricsSettings(t *testing.T) {
	t.Parallel()
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Web.SessionIdle != 30*time.Minute || c.Web.SessionLifetime != 12*time.Hour || c.Web.TrustedProxyHeader != "" ||
		c.Metrics.Listen != "" || c.Metrics.Token != "" {
		t.Fatalf("defaults: web %+v metrics %+v", c.Web, c.Metrics)
	}
	c, err = Load("", env(map[string]string{"AFTERCARE_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
		"AFTERCARE_SESSION_IDLE": "15m", "AFTERCARE_SESSION_LIFETIME": "8h",
		"AFTERCARE_METRICS_LISTEN": "127.0.0.1:9090", "AFTERCARE_METRICS_TOKEN": "0123456789abcdef-metrics"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Web.TrustedProxyHeader != "X-Forwarded-For" || c.Web.SessionIdle != 15*time.Minute || c.Web.SessionLifetime != 8*time.Hour ||
		c.Metrics.Listen != "127.0.0.1:9090" || c.Metrics.Token != "0123456789abcdef-metrics" {
		t.Fatalf("from env: web %+v metrics %+v", c.Web, c.Metrics)
	}
	if r := c.Redacted(); r.Metrics.Token != "[redacted]" {
		t.Errorf("metrics token not redacted: %q", r.Metrics.Token)
	}
}

// sms_segment_price defaults to the documented list price, is read from the
// file and the environment, and a negative or non-number price is refused.
func TestSMSSegmentPrice(t *testing.T) {
	t.Parallel()
	c, err := Load("", env(nil))
	if err != nil || c.SMSSegmentPrice != DefaultSMSSegmentPrice || DefaultSMSSegmentPrice != 0.0083 {
		t.Fatalf("default price %v, %v", c.SMSSegmentPrice, err)
	}
	c, err = Load("", env(map[string]string{"AFTERCARE_SMS_SEGMENT_PRICE": "0.0079"}))
	if err != nil || c.SMSSegmentPrice != 0.0079 {
		t.Fatalf("environment price %v, %v", c, err)
	}
	c = Default()
	if err := Parse([]byte("sms_segment_price: 0.01\n"), c); err != nil || c.SMSSegmentPrice != 0.01 {
		t.Fatalf("file price %v, %v", c.SMSSegmentPrice, err)
	}
	for _, v := range []string{"-0.01", "cheap", "2"} {
		if _, err := Load("", env(map[string]string{"AFTERCARE_SMS_SEGMENT_PRICE": v})); err == nil {
			t.Errorf("price %q accepted", v)
		}
	}
}
