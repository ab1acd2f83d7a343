package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/protocol"
	"github.com/aftercare/aftercare/store"
)

// Seeding writes hundreds of thousands of outbox rows straight into a
// database that store.Open created (and migrated), copying the rows of one
// enrollment that went through the real enroll service, so every row has
// the size and shape of a real one. Going through the API instead would
// take minutes for a million messages; the API itself is measured by the
// enroll phase. This SQL belongs to the bench alone, which is why it lives
// here and not in store/queries.go.

// messagesPerPatient is about one real plan's worth of messages.
const messagesPerPatient = 25

// base is what every phase's database starts with.
type base struct {
	path     string // a SQLite file, or a PostgreSQL DSN (bulk seeding: seedDue only)
	clinic   aftercare.Clinic
	key      string // the clinic's API key
	template int64  // the enrollment whose messages are copied
	zone     string
}

// daytimeZones are city zones around the world (enrollment refuses
// fixed-offset zones such as Etc/GMT-5).
var daytimeZones = []string{
	"Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Chicago",
	"America/New_York", "America/Halifax", "America/Sao_Paulo", "Atlantic/South_Georgia", "Atlantic/Azores",
	"Europe/London", "Europe/Paris", "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi",
	"Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Brisbane", "Pacific/Noumea",
	"Pacific/Auckland", "Pacific/Tongatapu", "Pacific/Kiritimati",
}

// daytimeZone returns a city zone in which it is now as close to noon as
// any, so that no SMS of the bench falls in quiet hours whenever it runs.
func daytimeZone(now time.Time) string {
	best, bestOff := "UTC", 24*time.Hour
	for _, z := range daytimeZones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			continue
		}
		t := now.In(loc)
		noon := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, loc)
		if off := t.Sub(noon).Abs(); off < bestOff {
			best, bestOff = z, off
		}
	}
	return best
}

// newBase creates the database at path with one clinic and one real
// enrollment (validated, planned and stored by the enroll service) treated
// at treatedAt.
func newBase(ctx context.Context, path string, now, treatedAt time.Time) (base, error) {
	b := base{path: path, zone: daytimeZone(now)}
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		return b, err
	}
	defer st.Close()
	b.clinic, b.key, err = st.CreateClinic(ctx, aftercare.Clinic{Name: "Glow Skin Clinic", Phone: "+14155550111",
		Timezone: b.zone, BookingURL: "https://glow.example/book", AlertEmail: "staff@glow.example", OnCallPhone: "+14155550199"})
	if err != nil {
		return b, err
	}
	p, err := protocol.Default()
	if err != nil {
		return b, err
	}
	svc := &enroll.Service{Store: st, Protocol: p, Clock: aftercare.SystemClock, Quiet: protocol.DefaultQuietHours}
	v, _, err := svc.Enroll(ctx, b.clinic, enrollRequest(0, b.zone, treatedAt), "")
	if err != nil {
		return b, fmt.Errorf("enroll the template patient: %w", err)
	}
	b.template = v.Enrollment.ID
	return b, nil
}

// enrollRequest is the i-th patient of the bench.
func enrollRequest(i int, zone string, treatedAt time.Time) enroll.Request {
	return enroll.Request{
		FirstName: "Ana", LastName: fmt.Sprintf("Diaz %d", i), Phone: benchPhone(i), Email: fmt.Sprintf("patient%d@example.com", i),
		Timezone: zone, SMSConsent: true, EmailConsent: true, ConsentMethod: aftercare.ConsentFrontDesk,
		Treatment: "microneedling", TreatedAt: treatedAt.Format(time.RFC3339), SessionNumber: 1, SeriesLength: 3,
		ExternalRef: fmt.Sprintf("visit-%d", i),
	}
}

// benchPhone is a valid US mobile-or-landline number, distinct for each i
// below 8,000,000 (area code 415, exchanges 200-999).
func benchPhone(i int) string {
	return fmt.Sprintf("+1415%03d%04d", 200+(i/10000)%800, i%10000)
}

// seeder writes bulk rows with its own connection (the store must be
// closed or idle: SQLite has one writer).
type seeder struct {
	db  *sql.DB
	b   base
	now int64
}

func openSeeder(b base, now time.Time) (*seeder, error) {
	db, err := sql.Open("sqlite", "file:"+b.path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)"+
		"&_pragma=foreign_keys(OFF)&_pragma=cache_size(-262144)&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", b.path, err)
	}
	db.SetMaxOpenConns(1)
	return &seeder{db: db, b: b, now: now.UnixMilli()}, nil
}

// Close checkpoints the WAL into the database file and closes.
func (s *seeder) Close() error {
	_, err := s.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

const qSeq = `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?) `

// patients adds n patients with consent to both channels and one
// enrollment each, and returns the id of the first (ids are consecutive).
func (s *seeder) patients(ctx context.Context, tx *sql.Tx, n int) (firstPatient, firstEnrollment int64, err error) {
	var maxP, maxE int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM patients`).Scan(&maxP); err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM enrollments`).Scan(&maxE); err != nil {
		return 0, 0, err
	}
	if _, err := tx.ExecContext(ctx, qSeq+`INSERT INTO patients(clinic_id, first_name, last_name, phone, email, timezone, created_at, updated_at)
		SELECT ?, 'Ana', 'Diaz ' || (i + 1), printf('+1646%03d%04d', 200 + ((i + 1) / 10000) % 800, (i + 1) % 10000),
			'patient' || (i + 1) || '@example.com', ?, ?, ? FROM seq`,
		n, s.b.clinic.ID, s.b.zone, s.now, s.now); err != nil {
		return 0, 0, fmt.Errorf("seed patients: %w", err)
	}
	for _, ch := range []string{"sms", "email"} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO consents(patient_id, channel, granted, at, method, wording_version)
			SELECT id, ?, 1, ?, 'front_desk', ? FROM patients WHERE id > ?`, ch, s.now, aftercare.ConsentWordingVersion, maxP); err != nil {
			return 0, 0, fmt.Errorf("seed consents: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO enrollments(clinic_id, patient_id, treatment, treated_at, session_number,
			series_length, external_ref, idempotency_key, request_hash, created_at)
		SELECT clinic_id, id, 'microneedling', ?, 1, 3, 'seed-' || id, '', '', ? FROM patients WHERE id > ? ORDER BY id`,
		s.now, s.now, maxP); err != nil {
		return 0, 0, fmt.Errorf("seed enrollments: %w", err)
	}
	return maxP + 1, maxE + 1, nil
}

// template copies the template enrollment's scheduled messages (of one
// channel, or all when channel is "") into the temp table tpl, numbered
// from 0 by k, and returns how many there are.
func (s *seeder) template(ctx context.Context, tx *sql.Tx, channel string) (int, error) {
	if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS temp.tpl`); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE tpl AS
		SELECT row_number() OVER (ORDER BY send_at, id) - 1 AS k, step, occurrence, channel, send_at, stale_at, subject, body, html_body
		FROM messages WHERE enrollment_id = ? AND status = 'scheduled' AND (? = '' OR channel = ?)`,
		s.b.template, channel, channel); err != nil {
		return 0, fmt.Errorf("copy template messages: %w", err)
	}
	var k int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tpl`).Scan(&k); err != nil {
		return 0, err
	}
	if k == 0 {
		return 0, fmt.Errorf("template enrollment %d has no scheduled %s messages", s.b.template, channel)
	}
	return k, nil
}

// seedDue adds n scheduled messages of channel ("" for the template's
// mix) to the base database, on either driver, perPatient per new patient,
// the i-th due at start + i*spacing and stale an hour after that.
func seedDue(ctx context.Context, b base, now time.Time, n, perPatient int, channel string, start time.Time, spacing time.Duration) error {
	if isPostgres(b.path) {
		return pgSeedDue(ctx, b, now, n, perPatient, channel, start, spacing)
	}
	sd, err := openSeeder(b, now)
	if err != nil {
		return err
	}
	if err := sd.due(ctx, n, perPatient, channel, start, spacing); err != nil {
		sd.Close()
		return err
	}
	return sd.Close()
}

// due adds n scheduled messages of channel ("" for the template's mix),
// perPatient per new patient, the i-th due at start + i*spacing and
// stale an hour after that. Occurrence is i, so rows never collide.
func (s *seeder) due(ctx context.Context, n, perPatient int, channel string, start time.Time, spacing time.Duration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	k, err := s.template(ctx, tx, channel)
	if err != nil {
		return err
	}
	patients := (n + perPatient - 1) / perPatient
	p0, e0, err := s.patients(ctx, tx, patients)
	if err != nil {
		return err
	}
	var maxM int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM messages`).Scan(&maxM); err != nil {
		return err
	}
	spacingUS := float64(spacing.Microseconds())
	if _, err := tx.ExecContext(ctx, qSeq+`INSERT INTO messages(enrollment_id, clinic_id, patient_id, step, occurrence, channel,
			send_at, stale_at, status, next_attempt_at, subject, body, html_body, updated_at)
		SELECT ? + i / ?, ?, ? + i / ?, t.step, i, t.channel,
			? + CAST(i * ? / 1000 AS INTEGER), ? + CAST(i * ? / 1000 AS INTEGER) + 3600000, 'scheduled',
			? + CAST(i * ? / 1000 AS INTEGER), t.subject, t.body, t.html_body, ?
		FROM seq JOIN tpl t ON t.k = i % ?`,
		n, e0, perPatient, s.b.clinic.ID, p0, perPatient,
		start.UnixMilli(), spacingUS, start.UnixMilli(), spacingUS, start.UnixMilli(), spacingUS, s.now, k); err != nil {
		return fmt.Errorf("seed due messages: %w", err)
	}
	if err := s.events(ctx, tx, maxM); err != nil {
		return err
	}
	return tx.Commit()
}

// pending adds copies of the template enrollment (all its scheduled
// messages, with their real send times) until about n messages are
// pending in total, and returns how many are.
func (s *seeder) pending(ctx context.Context, n int) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	k, err := s.template(ctx, tx, "")
	if err != nil {
		return 0, err
	}
	if copies := (n - k + k - 1) / k; copies > 0 {
		var maxM, maxE int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM messages`).Scan(&maxM); err != nil {
			return 0, err
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM enrollments`).Scan(&maxE); err != nil {
			return 0, err
		}
		if _, _, err := s.patients(ctx, tx, copies); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages(enrollment_id, clinic_id, patient_id, step, occurrence, channel,
				send_at, stale_at, status, next_attempt_at, subject, body, html_body, updated_at)
			SELECT e.id, e.clinic_id, e.patient_id, t.step, t.occurrence, t.channel, t.send_at, t.stale_at, 'scheduled',
				t.send_at, t.subject, t.body, t.html_body, ?
			FROM enrollments e CROSS JOIN tpl t WHERE e.id > ? ORDER BY e.id, t.k`, s.now, maxE); err != nil {
			return 0, fmt.Errorf("seed pending messages: %w", err)
		}
		if err := s.events(ctx, tx, maxM); err != nil {
			return 0, err
		}
	}
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE status = 'scheduled'`).Scan(&total); err != nil {
		return 0, err
	}
	return total, tx.Commit()
}

// events writes the "planned" event of every message after id afterID.
func (s *seeder) events(ctx context.Context, tx *sql.Tx, afterID int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO events(message_id, at, from_status, to_status, detail)
		SELECT id, ?, '', 'scheduled', 'planned' FROM messages WHERE id > ?`, s.now, afterID); err != nil {
		return fmt.Errorf("seed events: %w", err)
	}
	return nil
}

// fileSize is the size of the database file (after a checkpoint, the WAL
// is empty).
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// parkedFor is how far ahead of setup a phase parks the messages it will
// release: far enough that no setup, however slow, reaches it, and short of
// the template enrollment, whose messages start 20 hours ahead.
const parkedFor = 10 * time.Hour

// release makes messages parked from parked onwards fall due from at on:
// it moves the send, stale and next-attempt times of every seeded message
// (all but the template enrollment's) by at minus parked, in one
// transaction, on its own connection beside the running daemon. at is
// chosen once the setup has finished, lead after the transaction starts;
// lead only needs to cover the update itself. Besides at (what the rows
// say) it returns the instant the messages fell due: at, or, if the
// machine was so busy that the commit began after at, the moment it began
// (nobody could claim them earlier), so that a slow release shows as
// lateness, never as a failure.
func release(ctx context.Context, b base, parked time.Time, lead time.Duration) (at, due time.Time, err error) {
	db, err := sql.Open("sqlite", "file:"+b.path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return at, due, fmt.Errorf("open %s: %w", b.path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return at, due, fmt.Errorf("release: %w", err)
	}
	defer tx.Rollback()
	at = time.Now().Add(lead).Truncate(time.Millisecond)
	delta := at.UnixMilli() - parked.UnixMilli()
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET send_at = send_at + ?1, stale_at = stale_at + ?1,
			next_attempt_at = next_attempt_at + ?1
		WHERE enrollment_id <> ?2 AND status = 'scheduled' AND next_attempt_at >= ?3`,
		delta, b.template, parked.UnixMilli()); err != nil {
		return at, due, fmt.Errorf("release: %w", err)
	}
	committing := time.Now()
	if err := tx.Commit(); err != nil {
		return at, due, fmt.Errorf("release: %w", err)
	}
	if committing.After(at) {
		return at, committing, nil
	}
	return at, at, nil
}
