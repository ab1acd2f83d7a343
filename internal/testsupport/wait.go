package testsupport

import (
	"runtime"
	"time"
)

// pollEvery is how often a wait asks its condition again.
const pollEvery = 5 * time.Millisecond

// Eventually polls cond until it holds, and reports whether it did
// before timeout passed. It asks once more at the deadline, so a slow
// machine that lets it poll only once still gets its answer.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(pollEvery)
	}
	return true
}

// WaitFor polls cond until it holds, failing the test ("what: not within
// timeout") if it still does not after timeout. Give a timeout far beyond
// what a loaded machine needs: it is spent only when something is wrong.
func WaitFor(tb TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	if !Eventually(timeout, cond) {
		tb.Fatalf("%s: not within %s", what, timeout)
	}
}

// WaitGoroutines waits until at most n goroutines are running, failing
// the test with every goroutine's stack if there are still more after
// timeout. Tests that count goroutines must not run in parallel.
func WaitGoroutines(tb TB, n int, timeout time.Duration) {
	tb.Helper()
	if !Eventually(timeout, func() bool { return runtime.NumGoroutine() <= n }) {
		buf := make([]byte, 1<<20)
		tb.Fatalf("goroutines: %d, want at most %d after %s\n%s", runtime.NumGoroutine(), n, timeout, buf[:runtime.Stack(buf, true)])
	}
}
