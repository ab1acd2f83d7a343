// Package abuse holds no code: its tests drive the whole daemon in-process
// (app.New on a real database: a SQLite file, or a PostgreSQL schema with
// AFTERCARE_TEST_DB=postgres; the real HTTP server on 127.0.0.1, the
// real Twilio client against notify/twiliotest, real SMTP through
// notify/smtptest) under load, a due-time spike, hostile requests and a
// full run whose logs are searched for personal data and secrets.
//
// The load test runs for 8 s by default; AFTERCARE_SOAK=1 runs it for 30 s
// (AFTERCARE_LOAD_SECONDS=N sets any length).
package abuse
