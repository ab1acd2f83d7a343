// Command aftercare-bench measures aftercare on this machine: the Twilio
// client's ceiling, dispatch, a burst, enrollments through the API,
// dispatch and enrollments on PostgreSQL beside SQLite, 1, 2 and 3
// replicas on one PostgreSQL database, lateness of a steady stream, and
// memory and start-up with a million messages pending. It prints a table
// (or, with -json, one JSON object) with each figure, its target and
// whether it met it.
//
//	go run ./cmd/aftercare-bench            # the full run (about five minutes)
//	go run ./cmd/aftercare-bench -quick     # a small run (CI)
//	go run ./cmd/aftercare-bench -phases dispatch,burst -profile /tmp/prof
//	go run ./cmd/aftercare-bench -phases postgres,replicas
//
// The PostgreSQL phases (postgres, replicas) run on the server named by
// -postgres, else AFTERCARE_BENCH_POSTGRES, else the tests' server
// (AFTERCARE_TEST_POSTGRES or .ci/postgres.env, which .ci/deps writes): the
// run creates a database of its own there and drops it at the end. With
// no server they are reported as not run; with the environment variable
// CI set, they fail instead.
//
// It exits 1 when a phase fails (including a message lost or sent twice)
// and, with -strict, when a figure misses its target.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "time/tzdata" // carry zone data in the binary

	"github.com/aftercare/aftercare/bench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == bench.ChildCommand {
		return bench.ChildMain(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("aftercare-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a small run (CI): N=5000, 500 enrollments, 600 texts for replicas, 3 s of lateness, 50k pending")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the table")
	strict := fs.Bool("strict", false, "exit 1 when a figure misses its target")
	def := bench.Default()
	n := fs.Int("n", def.N, "texts for limit, dispatch and burst")
	batch := fs.Int("batch", def.BatchSize, "dispatcher claim batch size")
	conc := fs.Int("concurrency", def.Concurrency, "dispatcher (and limit) concurrency")
	enrolls := fs.Int("enrollments", def.Enrollments, "enrollments posted in the enroll phase")
	clients := fs.Int("clients", def.EnrollClients, "concurrent API clients in the enroll phase")
	rate := fs.Float64("rate", def.Rate, "due messages per second in the lateness phase")
	dur := fs.Duration("duration", def.Duration, "length of the lateness stream")
	small := fs.Int("mem-small", def.MemSmall, "pending messages, small memory case")
	large := fs.Int("mem-large", def.MemLarge, "pending messages, large memory case")
	hold := fs.Duration("hold", def.Hold, "how long the daemon child runs once ready")
	phases := fs.String("phases", "", "comma-separated phases to run (default all: "+strings.Join(bench.AllPhases, ",")+")")
	profile := fs.String("profile", "", "directory for CPU and allocation profiles of each phase")
	dir := fs.String("dir", "", "directory for the temp databases (default the system temp dir)")
	pgDSN := fs.String("postgres", "", "DSN of a PostgreSQL server where the bench may CREATE DATABASE (default $"+bench.PostgresEnv+", else the tests' server)")
	replicaN := fs.Int("replica-n", def.ReplicaN, "texts drained by 1, 2 and 3 replicas in the replicas phase")
	replicaBatch := fs.Int("replica-batch", def.ReplicaBatch, "each replica's claim batch size in the replicas phase")
	replicaConc := fs.Int("replica-concurrency", def.ReplicaConcurrency, "each replica's concurrency in the replicas phase")
	apiDelay := fs.Duration("api-delay", def.APIDelay, "how long the loopback Twilio API takes to answer in the morning and replicas phases")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "aftercare-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}

	cfg := def
	if *quick {
		cfg = bench.Quick()
	}
	// Flags given explicitly override -quick.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "n":
			cfg.N = *n
		case "batch":
			cfg.BatchSize = *batch
		case "concurrency":
			cfg.Concurrency = *conc
		case "enrollments":
			cfg.Enrollments = *enrolls
		case "clients":
			cfg.EnrollClients = *clients
		case "rate":
			cfg.Rate = *rate
		case "duration":
			cfg.Duration = *dur
		case "mem-small":
			cfg.MemSmall = *small
		case "mem-large":
			cfg.MemLarge = *large
		case "hold":
			cfg.Hold = *hold
		case "replica-n":
			cfg.ReplicaN = *replicaN
		case "replica-batch":
			cfg.ReplicaBatch = *replicaBatch
		case "replica-concurrency":
			cfg.ReplicaConcurrency = *replicaConc
		case "api-delay":
			cfg.APIDelay = *apiDelay
		}
	})
	if *phases != "" {
		cfg.Phases = strings.Split(*phases, ",")
	}
	cfg.ProfileDir, cfg.Dir, cfg.Progress = *profile, *dir, stderr
	cfg.Postgres = *pgDSN
	if cfg.Postgres == "" {
		dsn, _, err := bench.FindPostgres()
		if err != nil {
			fmt.Fprintln(stderr, "aftercare-bench:", err)
			return 1
		}
		cfg.Postgres = dsn
	}
	// CI must measure PostgreSQL: a missing server fails its phases there.
	cfg.RequirePostgres = os.Getenv("CI") != ""

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintln(stderr, "aftercare-bench:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "aftercare-bench:", err)
			return 1
		}
	} else {
		rep.Print(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "aftercare-bench:", err)
		return 1
	}
	if *strict && !rep.Passed() {
		return 1
	}
	return 0
}
