// Package faulttest holds the fault tests of aftercare: real `aftercare
// serve` processes killed with SIGKILL at random points of dispatch and
// stopped with SIGTERM under load, provider outages, an SMTP server down at
// start and flapping, a locked, full or read-only database, and clock jumps.
// Each test asserts what aftercare promises: no message lost, nothing
// marked sent that the provider did not get, no text sent twice, and
// emails sent twice at most within a bound the test computes.
//
// The tests run on a SQLite file, or with AFTERCARE_TEST_DB=postgres on a
// PostgreSQL schema of their own (the `serve` processes get it through
// AFTERCARE_DB), except those about SQLite's file itself (backup and
// restore, a locked file, a full or read-only file system), which always
// run on SQLite; the replica tests always run on PostgreSQL.
//
// The package has only tests. `go test ./faulttest` runs them within CI's
// budget; AFTERCARE_SOAK=1 runs longer versions (more kills, more
// messages), and AFTERCARE_FAULT_SEED=<n> replays the kill points of a
// crash run (each run prints its seed).
package faulttest
