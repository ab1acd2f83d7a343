package testsupport

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Runner is a TB for programs (aftercare-bench), which must not import
// testing: Fatalf ends the function Do runs with the error, Errorf records
// an error for Close to return, Cleanup functions run at Close (the last
// registered first), TempDir makes directories Close removes, and Logf
// writes to Log. Fatalf, like testing's, may be called only from the
// goroutine running Do.
type Runner struct {
	// Log receives Logf lines (nil discards them).
	Log io.Writer

	mu       sync.Mutex
	cleanups []func()
	errs     []error
}

// runnerFatal is what Fatalf panics with and Do recovers.
type runnerFatal struct{ err error }

// Do runs f and returns the error of the Fatalf that ended it, if one did.
// Cleanups f registered stay until Close.
func (r *Runner) Do(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			rf, ok := v.(runnerFatal)
			if !ok {
				panic(v)
			}
			err = rf.err
		}
	}()
	f()
	return nil
}

// Close runs the cleanups, the last registered first, and returns the
// errors reported with Errorf, joined.
func (r *Runner) Close() error {
	r.mu.Lock()
	fs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	err := errors.Join(r.errs...)
	r.errs = nil
	return err
}

// Helper does nothing: a Runner reports no file and line.
func (r *Runner) Helper() {}

// Cleanup registers f to run at Close.
func (r *Runner) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// Errorf records an error for Close to return.
func (r *Runner) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Errorf(format, args...))
}

// Fatalf ends the function Do runs, which returns the error.
func (r *Runner) Fatalf(format string, args ...any) {
	panic(runnerFatal{fmt.Errorf(format, args...)})
}

// Logf writes a line to Log.
func (r *Runner) Logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

// TempDir makes a new directory that Close removes.
func (r *Runner) TempDir() string {
	dir, err := os.MkdirTemp("", "aftercare-")
	if err != nil {
		r.Fatalf("make temp dir: %v", err)
	}
	r.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
