package faulttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
	"github.com/aftercare/aftercare/notify/smtptest"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/store"

	_ "time/tzdata" // Etc/GMT zones without the system's zoneinfo
)

// binary is the aftercare executable built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "aftercare-faulttest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "aftercare")
	// Built with -race when the tests are: the race-instrumented packages
	// are then already in the build cache, and the daemon is checked too.
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/aftercare/aftercare/cmd/aftercare")
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faulttest: build aftercare:", err)
		return 1
	}
	return m.Run()
}

// soak reports whether the long versions were asked for.
func soak() bool { return os.Getenv("AFTERCARE_SOAK") == "1" }

// fixture is a database directory with the loopback providers a daemon
// talks to.
type fixture struct {
	t         *testing.T
	dir       string
	db        string
	providers *testsupport.Providers
	tw        *twiliotest.Server
	mail      *smtptest.Server
	// config is the YAML given with --config (dispatch settings).
	config string
	// env is added to every daemon's environment.
	env  []string
	runs int
}

// newFixture makes a fixture on a new database of either driver
// (testsupport.DB).
func newFixture(t *testing.T, config string) *fixture {
	t.Helper()
	return newFixtureAt(t, config, testsupport.DB(t))
}

// newSQLiteFixture makes a fixture on a new SQLite file, for tests about
// the file itself.
func newSQLiteFixture(t *testing.T, config string) *fixture {
	t.Helper()
	return newFixtureAt(t, config, testsupport.SQLiteDB(t))
}

// newFixtureAt makes a fixture on the database dsn names.
func newFixtureAt(t *testing.T, config, dsn string) *fixture {
	t.Helper()
	p := testsupport.NewProviders(t, testsupport.ProviderOptions{})
	return &fixture{t: t, dir: t.TempDir(), db: dsn, providers: p, tw: p.Twilio, mail: p.Mail, config: config}
}

// daemon is one `aftercare serve` process.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	log    string
	exited chan struct{}
	err    error // the exit error, once exited is closed
}

// start runs `aftercare serve` on the fixture's database.
func (f *fixture) start() *daemon {
	f.t.Helper()
	f.runs++
	addr := freeAddr(f.t)
	cfgPath := filepath.Join(f.dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(f.config), 0o600); err != nil {
		f.t.Fatal(err)
	}
	logPath := filepath.Join(f.dir, fmt.Sprintf("daemon-%02d.log", f.runs))
	logFile, err := os.Create(logPath)
	if err != nil {
		f.t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + f.dir,
		"AFTERCARE_DB=" + f.db,
		"AFTERCARE_LISTEN=" + addr,
		"AFTERCARE_PUBLIC_URL=http://" + addr,
		"AFTERCARE_LOG_FORMAT=json",
		"GORACE=halt_on_error=1",
	}, append(f.providers.Env(), f.env...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start aftercare: %v", err)
	}
	d := &daemon{t: f.t, cmd: cmd, base: "http://" + addr, log: logPath, exited: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	f.t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var client = &http.Client{Timeout: 10 * time.Second}

// get returns the status and body of GET path (status 0 if the daemon did
// not answer).
func (d *daemon) get(path string) (int, string) {
	resp, err := client.Get(d.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond every few milliseconds until it holds, the daemon
// exits, or timeout passes (which fails the test).
func (d *daemon) waitFor(what string, timeout time.Duration, cond func() bool) {
	d.t.Helper()
	ok := testsupport.Eventually(timeout, func() bool {
		select {
		case <-d.exited:
			d.t.Fatalf("daemon exited (%v) while waiting for %s\n%s", d.err, what, d.tail())
		default:
		}
		return cond()
	})
	if !ok {
		d.t.Fatalf("%s: not within %s\n%s", what, timeout, d.tail())
	}
}

// healthy waits for /healthz (process up and serving).
func (d *daemon) healthy() {
	d.t.Helper()
	d.waitFor("daemon healthy", 3*time.Minute, func() bool { st, _ := d.get("/healthz"); return st == 200 })
}

// ready waits for /readyz to answer 200.
func (d *daemon) ready() {
	d.t.Helper()
	d.waitFor("daemon ready", 3*time.Minute, func() bool { st, _ := d.get("/readyz"); return st == 200 })
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.t.Fatal("daemon survived SIGKILL")
	}
}

// term sends SIGTERM and returns the exit code, failing the test if the
// daemon is still running after timeout.
func (d *daemon) term(timeout time.Duration) int {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(timeout):
		d.t.Fatalf("daemon still running %s after SIGTERM\n%s", timeout, d.tail())
	}
	return d.exitCode()
}

func (d *daemon) exitCode() int {
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode()
	}
	if d.err != nil {
		return -1
	}
	return 0
}

// tail returns the end of the daemon's log, for failure messages.
func (d *daemon) tail() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// logs returns the daemon's whole log.
func (d *daemon) logs() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

// daytimeZone returns a fixed-offset IANA zone where it is now about 13:00,
// so that texts sent by a daemon on the wall clock are outside quiet hours
// for the length of any test.
func daytimeZone(now time.Time) string {
	h := 13 - now.UTC().Hour() // UTC offset in hours, within -10..+13
	switch {
	case h == 0:
		return "Etc/GMT"
	case h > 0:
		return fmt.Sprintf("Etc/GMT-%d", h) // POSIX sign: Etc/GMT-5 is UTC+5
	default:
		return fmt.Sprintf("Etc/GMT+%d", -h)
	}
}

// plan describes the messages seeded for each patient.
type plan struct {
	patients int
	sms      int // texts per patient
	email    int // emails per patient
	// at returns the send time of message k of patient p (all channels).
	at func(p, k int) time.Time
	// staleIn is how long after its send time each message goes stale.
	staleIn time.Duration
	tag     string // makes bodies unique across runs sharing a server
	// firstPhone numbers the patients' phones (+1415 followed by 7 digits).
	firstPhone int
}

// seeded is what seed put in the database.
type seeded struct {
	clinic aftercare.Clinic
	sms    int
	email  int
}

func (s seeded) total() int { return s.sms + s.email }

// seed creates a clinic and p.patients enrollments with their messages in
// the database dsn names, straight through the store.
func seed(t *testing.T, dsn string, p plan, clock aftercare.Clock) seeded {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return seedStore(t, st, p, clock.Now(), daytimeZone(clock.Now()))
}

// seedStore creates a clinic in zone tz and p.patients enrollments, each
// text and email with a unique body or subject.
func seedStore(t *testing.T, st *store.Store, p plan, now time.Time, tz string) seeded {
	t.Helper()
	ctx := context.Background()
	clinic, _, err := st.CreateClinic(ctx, aftercare.Clinic{AlertEmail: "staff@clinic.example", Name: "Glow Clinic", Phone: "+14155550111", Timezone: tz})
	if err != nil {
		t.Fatal(err)
	}
	out := seeded{clinic: clinic}
	if p.at == nil {
		p.at = func(int, int) time.Time { return now.Add(-time.Minute) }
	}
	for i := 0; i < p.patients; i++ {
		i := i
		_, _, err := st.CreateEnrollment(ctx, store.NewEnrollment{
			Patient: aftercare.Patient{ClinicID: clinic.ID, FirstName: "Pat", LastName: fmt.Sprintf("N%d", i),
				Phone: fmt.Sprintf("+1415%07d", p.firstPhone+i), Email: fmt.Sprintf("pat%d-%s@example.com", i, p.tag), Timezone: tz},
			Enrollment: aftercare.Enrollment{Treatment: "microneedling", TreatedAt: now.Add(-time.Hour), SessionNumber: 1, SeriesLength: 1},
			Plan: func(aftercare.Patient, aftercare.Enrollment) ([]aftercare.Message, error) {
				var msgs []aftercare.Message
				for k := 0; k < p.sms+p.email; k++ {
					at := p.at(i, k)
					m := aftercare.Message{Step: "fault", Occurrence: k, SendAt: at, StaleAt: at.Add(p.staleIn),
						Status: aftercare.StatusScheduled}
					if k < p.sms {
						m.Channel = aftercare.SMS
						m.Body = fmt.Sprintf("Aftercare %s p%d m%d: keep your skin clean", p.tag, i, k)
					} else {
						m.Channel = aftercare.Email
						m.Subject = fmt.Sprintf("Aftercare %s p%d m%d", p.tag, i, k)
						m.Body = "Keep your skin clean and use sunscreen."
						m.HTMLBody = "<p>Keep your skin clean and use sunscreen.</p>"
					}
					msgs = append(msgs, m)
				}
				return msgs, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		out.sms += p.sms
		out.email += p.email
	}
	return out
}

// row is one message as the database has it.
type row struct {
	id         int64
	channel    aftercare.Channel
	status     aftercare.Status
	body       string
	providerID string
	reason     string
	attempts   int
}

// dbView reads a database that a daemon may be using, on either driver.
type dbView struct {
	t  *testing.T
	db *testsupport.Handle
}

// openView opens a read-only view of the database dsn names.
func openView(t *testing.T, dsn string) *dbView {
	t.Helper()
	return &dbView{t: t, db: testsupport.OpenReader(t, dsn)}
}

func (v *dbView) rows() []row {
	v.t.Helper()
	rs, err := v.db.Query(`SELECT id, channel, status, body, provider_id, reason, attempts FROM messages ORDER BY id`)
	if err != nil {
		v.t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		var ch, st string
		if err := rs.Scan(&r.id, &ch, &st, &r.body, &r.providerID, &r.reason, &r.attempts); err != nil {
			v.t.Fatal(err)
		}
		r.channel, r.status = aftercare.Channel(ch), aftercare.Status(st)
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		v.t.Fatal(err)
	}
	return out
}

// count returns how many messages of channel ("" for all) are in status.
func (v *dbView) count(channel aftercare.Channel, status aftercare.Status) int {
	v.t.Helper()
	var n int
	err := v.db.QueryRow(`SELECT count(*) FROM messages WHERE status = ? AND (? = '' OR channel = ?)`,
		string(status), string(channel), string(channel)).Scan(&n)
	if err != nil {
		v.t.Fatal(err)
	}
	return n
}

// pending is how many messages are not yet in a final state.
func (v *dbView) pending() int {
	v.t.Helper()
	n, err := v.tryPending()
	if err != nil {
		v.t.Fatal(err)
	}
	return n
}

// tryPending is pending that reports errors (the server may be down)
// instead of failing the test.
func (v *dbView) tryPending() (int, error) {
	// One query, one snapshot: counting the two statuses separately could
	// miss a message moving from sending back to scheduled in between.
	var n int
	err := v.db.QueryRow(`SELECT count(*) FROM messages WHERE status IN ('scheduled', 'sending')`).Scan(&n)
	return n, err
}

// sendingIDs returns the ids of messages of channel in sending.
func (v *dbView) sendingIDs(channel aftercare.Channel) []int64 {
	v.t.Helper()
	rs, err := v.db.Query(`SELECT id FROM messages WHERE status = 'sending' AND channel = ?`, string(channel))
	if err != nil {
		v.t.Fatal(err)
	}
	defer rs.Close()
	var out []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			v.t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func final(s aftercare.Status) bool {
	switch s {
	case aftercare.StatusSent, aftercare.StatusDelivered, aftercare.StatusFailed, aftercare.StatusSkipped, aftercare.StatusCancelled:
		return true
	}
	return false
}

// emailIDs maps each received email's Message-ID to how many copies
// arrived.
func emailIDs(t *testing.T, msgs []smtptest.Received) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for _, m := range msgs {
		parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("unreadable email: %v", err)
		}
		id := parsed.Header.Get("Message-Id")
		if id == "" {
			t.Fatal("email without a Message-ID")
		}
		out[id]++
	}
	return out
}

// textBodies maps each stored text's body to how many copies Twilio got.
func textBodies(msgs []twiliotest.Message) map[string]int {
	out := make(map[string]int)
	for _, m := range msgs {
		out[m.Body]++
	}
	return out
}

// verdict checks the end state of a run against the providers: every
// message final, each sent one present at its provider, nothing at a
// provider that the database does not know, and counts duplicates.
type verdict struct {
	rows         []row
	notFinal     int
	sentNotThere int // marked sent, but the provider never got it
	unknown      int // at a provider, but no message in the database has it
	dupSMS       int // extra copies of texts
	dupEmail     int // extra copies of emails
	sent         int
}

func judge(t *testing.T, v *dbView, tw *twiliotest.Server, ms *smtptest.Server) verdict {
	t.Helper()
	out := verdict{rows: v.rows()}
	texts := textBodies(tw.Sent())
	textSID := make(map[string]string)
	for _, m := range tw.Sent() {
		textSID[m.SID] = m.Body
	}
	emails := emailIDs(t, ms.Messages())
	knownText, knownEmail := make(map[string]bool), make(map[string]bool)
	for _, r := range out.rows {
		if !final(r.status) {
			out.notFinal++
		}
		switch r.channel {
		case aftercare.SMS:
			knownText[r.body] = true
		case aftercare.Email:
			knownEmail[r.providerID] = true
		}
		if r.status != aftercare.StatusSent && r.status != aftercare.StatusDelivered {
			continue
		}
		out.sent++
		switch r.channel {
		case aftercare.SMS:
			if body, ok := textSID[r.providerID]; !ok || body != r.body {
				out.sentNotThere++
			}
		case aftercare.Email:
			if emails[r.providerID] == 0 {
				out.sentNotThere++
			}
		}
	}
	for body, n := range texts {
		out.dupSMS += n - 1
		if !knownText[body] {
			out.unknown++
		}
	}
	for id, n := range emails {
		out.dupEmail += n - 1
		if !knownEmail[id] {
			out.unknown++
		}
	}
	return out
}

// messageIDOf is the Message-ID notify/smtp gives outbox message id (the
// domain is the sender's).
func messageIDOf(id int64) string {
	return fmt.Sprintf("<aftercare-%d@glow.example>", id)
}

// summary is the verdict without the rows, for failure messages.
func (v verdict) summary() map[string]int {
	return map[string]int{"messages": len(v.rows), "sent": v.sent, "not_final": v.notFinal, "sent_not_at_provider": v.sentNotThere,
		"unknown_at_provider": v.unknown, "duplicate_texts": v.dupSMS, "duplicate_emails": v.dupEmail}
}
