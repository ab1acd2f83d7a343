package faulttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/internal/testsupport"
)

// backupConfig: four sends in flight against a Twilio answering in 50 ms,
// so the plan takes several seconds however fast the machine is, and the
// backup lands mid-dispatch; small claims, so that most texts sent after
// the backup were still scheduled in it (not sending, which any restart
// treats as ambiguous).
const backupConfig = `
dispatch:
  tick: "@every 1s"
  housekeeping: "@every 1s"
  batch_size: 8
  concurrency: 4
  email_concurrency: 2
  lease: 2m
  send_timeout: 10s
  sms_rate: 0
  email_rate: 0
`

// TestBackupRestoreMidDispatch: `aftercare backup` copies the database of
// a daemon in the middle of delivering a plan (0600); the daemon goes on
// sending and is then lost (SIGKILL, as if its disk died); `aftercare
// restore` puts the backup in place and a new daemon finishes the plan.
// Nothing is lost, no text goes out twice (the texts sent after the backup
// are found at Twilio, not resent), and emails go out twice at most for
// those that reached the SMTP server after the backup (SMTP has no lookup).
func TestBackupRestoreMidDispatch(t *testing.T) {
	t.Parallel()
	f := newSQLiteFixture(t, backupConfig) // SQLite: aftercare backup and restore copy the file
	f.tw.SetDelay(50 * time.Millisecond)
	now := time.Now()
	s := seed(t, f.db, plan{patients: 200, sms: 3, email: 1, staleIn: 6 * time.Hour, tag: "backup",
		at: func(p, k int) time.Time { return now.Add(-10*time.Minute + time.Duration(p*4+k)*100*time.Millisecond) }}, aftercare.SystemClock)
	view := openView(t, f.db)

	d := f.start()
	d.healthy()
	d.waitFor("a third of the texts sent", 120*time.Second, func() bool { return len(f.tw.Sent()) >= s.sms/3 })
	bak := filepath.Join(t.TempDir(), "aftercare-backup.db")
	if out, err := f.command("backup", bak).CombinedOutput(); err != nil {
		t.Fatalf("aftercare backup: %v\n%s", err, out)
	}
	fi, err := os.Stat(bak)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("backup created with mode %o, want 600", mode)
	}
	bv := openView(t, bak)
	inBackup := bv.count("", aftercare.StatusSent)
	if inBackup == 0 || inBackup == s.total() {
		t.Fatalf("the backup holds %d of %d messages sent: not taken mid-dispatch", inBackup, s.total())
	}
	sentInBackup := map[string]bool{}
	for _, r := range bv.rows() {
		if r.status == aftercare.StatusSent && r.channel == aftercare.Email {
			sentInBackup[r.providerID] = true
		}
	}

	// The daemon sends on for a while, then its disk is lost.
	textsAtBackup := len(f.tw.Sent())
	d.waitFor("more texts sent after the backup", 120*time.Second, func() bool {
		return len(f.tw.Sent()) >= textsAtBackup+40 || view.pending() == 0
	})
	d.kill()
	testsupport.WaitFor(t, "smtp connections closed", 10*time.Second, func() bool { return f.mail.OpenConnections() == 0 })
	textsAfterBackup := len(f.tw.Sent()) - textsAtBackup
	emailsAtRisk := 0 // reached the SMTP server, not recorded as sent in the backup
	for id := range emailIDs(t, f.mail.Messages()) {
		if !sentInBackup[id] {
			emailsAtRisk++
		}
	}

	out, err := f.command("restore", bak).CombinedOutput()
	if err != nil {
		t.Fatalf("aftercare restore: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "checked at the provider first") {
		t.Errorf("restore output: %s", out)
	}
	// The old view reads the database that restore moved aside.
	view = openView(t, f.db)
	d = f.start()
	d.waitFor("every message final", 120*time.Second, func() bool { return view.pending() == 0 })
	d.ready()
	if code := d.term(60 * time.Second); code != 0 {
		t.Fatalf("restored daemon exited %d\n%s", code, d.tail())
	}

	v := judge(t, view, f.tw, f.mail)
	t.Logf("backup with %d of %d sent; %d texts and %d emails reached the providers after it; end state %v",
		inBackup, s.total(), textsAfterBackup, emailsAtRisk, v.summary())
	if textsAfterBackup == 0 {
		t.Error("no text went out between the backup and the loss: the test does not exercise the restore's lookups")
	}
	if len(v.rows) != s.total() || v.sent != s.total() || v.notFinal != 0 {
		t.Errorf("lost messages: %v", v.summary())
	}
	if v.dupSMS != 0 {
		t.Errorf("%d texts sent twice after the restore; texts sent since the backup must be found at Twilio", v.dupSMS)
	}
	if v.sentNotThere != 0 || v.unknown != 0 {
		t.Errorf("database and providers disagree: %v", v.summary())
	}
	if v.dupEmail > emailsAtRisk {
		t.Errorf("%d emails sent twice, more than the %d that reached SMTP after the backup", v.dupEmail, emailsAtRisk)
	}
}

// command runs `aftercare ARGS…` on the fixture's database and config.
func (f *fixture) command(args ...string) *exec.Cmd {
	cfgPath := filepath.Join(f.dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(f.config), 0o600); err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{args[0], "--config", cfgPath}, args[1:]...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + f.dir, "AFTERCARE_DB=" + f.db}, f.env...)
	return cmd
}
