package testsupport

// A private PostgreSQL cluster for tests that must stop and start the
// server itself (a restart mid-dispatch), which the shared server of
// PostgresDSN must never do.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PostgresCluster is a PostgreSQL server of one test's own: a data
// directory made by initdb in a temporary directory, listening on a free
// loopback port, stopped and removed when the test ends.
type PostgresCluster struct {
	tb   SkipTB
	bin  string // directory of initdb and pg_ctl
	dir  string // temporary directory: data/, the socket, the log
	port int
	// asPostgres runs the server's commands as the postgres user (the
	// test runs as root, and initdb refuses root).
	asPostgres bool
}

// StartPostgresCluster runs initdb (a superuser named aftercare, trust
// authentication) and starts the server. Without PostgreSQL's binaries
// the test is skipped, or fails when CI is set. Stop it, or let the
// test's cleanup do it.
func StartPostgresCluster(tb SkipTB) *PostgresCluster {
	tb.Helper()
	bin := postgresBin()
	if bin == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%v", "PostgreSQL's initdb and pg_ctl are not installed (/usr/lib/postgresql/*/bin): run .ci/deps")
		}
		tb.Skip("PostgreSQL's initdb and pg_ctl are not installed (/usr/lib/postgresql/*/bin): apt-get install postgresql")
	}
	c := &PostgresCluster{tb: tb, bin: bin, asPostgres: os.Geteuid() == 0}
	dir, err := os.MkdirTemp("", "aftercare-pgcluster-")
	if err != nil {
		tb.Fatalf("%v", err)
	}
	c.dir = dir
	tb.Cleanup(func() {
		// Whatever state it is in: immediate stop, then remove.
		c.ctl(30*time.Second, "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	if c.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("private PostgreSQL: running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			tb.Fatalf("private PostgreSQL: %v", err)
		}
	}
	c.port = freePort(tb)
	if out, err := c.run(time.Minute, filepath.Join(bin, "initdb"), "-D", c.data(), "-A", "trust", "-U", "aftercare",
		"--no-sync", "-E", "UTF8", "--locale", "C"); err != nil {
		tb.Fatalf("private PostgreSQL: initdb: %v\n%s", err, out)
	}
	if err := c.Start(); err != nil {
		tb.Fatalf("%v", err)
	}
	return c
}

// DSN returns the DSN of the cluster's postgres database as its superuser.
func (c *PostgresCluster) DSN() string {
	return fmt.Sprintf("postgres://aftercare@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the stopped server on its port and waits until it accepts
// connections.
func (c *PostgresCluster) Start() error {
	// fsync off: the tests stop it cleanly or not at all and never read
	// its files after a power cut; it saves seconds on a slow disk.
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", c.port, c.dir)
	if out, err := c.ctl(time.Minute, "-o", opts, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("private PostgreSQL: start: %w\n%s\n%s", err, out, c.Log())
	}
	return nil
}

// Stop stops the server with pg_ctl's mode ("fast": clients are
// disconnected, a clean shutdown; "immediate": a crash) and waits until it
// is down.
func (c *PostgresCluster) Stop(mode string) error {
	if out, err := c.ctl(time.Minute, "-m", mode, "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("private PostgreSQL: stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

// Log returns the end of the server's log, for failure messages.
func (c *PostgresCluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (c *PostgresCluster) data() string { return filepath.Join(c.dir, "data") }

// ctl runs pg_ctl on the cluster's data directory.
func (c *PostgresCluster) ctl(timeout time.Duration, args ...string) (string, error) {
	return c.run(timeout, filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data()}, args...)...)
}

// run runs one of the server's commands, as postgres when the test is root.
func (c *PostgresCluster) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if c.asPostgres {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	// pg_ctl start leaves the server holding its own output; the log
	// file takes it, so CombinedOutput returns when pg_ctl does.
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// postgresBin returns the newest /usr/lib/postgresql/N/bin holding initdb
// and pg_ctl, or "".
func postgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

// freePort returns a loopback TCP port free right now.
func freePort(tb SkipTB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("%v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
