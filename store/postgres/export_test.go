package postgres

// Internals the external tests (package postgres_test) look at. Those
// tests are external because they import internal/testsupport and store,
// which may import this package.

// LockKey is lockKey.
var LockKey = lockKey

// MigrationNames is migrationNames.
var MigrationNames = migrationNames
