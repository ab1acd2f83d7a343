// Package testsupport is what aftercare's tests share: a settable virtual
// clock, a condition wait with a deadline, the test database, the loopback
// providers (notify/twiliotest and notify/smtptest) and the whole daemon
// in-process on 127.0.0.1 (app.New on a fresh database, talking to those
// providers).
//
// It does not import testing, so that aftercare-bench runs the same
// harness: everything takes a TB, which *testing.T and *testing.B satisfy
// and Runner implements for programs.
package testsupport

// TB is the part of testing.TB the helpers use. *testing.T, *testing.B
// and *testing.F satisfy it; Runner implements it outside tests. It holds
// twiliotest.TB and smtptest.TB, so a TB starts those servers too.
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
}

// SkipTB is a TB that has a name and can skip: what a test that needs a
// PostgreSQL server gets (*testing.T and *testing.B are both).
type SkipTB interface {
	TB
	Name() string
	Skip(args ...any)
}

// The loopback Twilio account and the senders every harness configures.
// twilio-go refuses non-alphanumeric secrets. The auth token shares no
// run of characters with the account SID, so a test that looks for the
// token in logs does not find the SID instead.
const (
	AccountSID = "AC0123456789abcdef0123456789abcdef"
	AuthToken  = "f00dfacef00dfacef00dfacef00dface"
	FromNumber = "+14155550100"
	EmailFrom  = "Glow Clinic <care@glow.example>"
)
