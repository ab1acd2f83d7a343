package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify/twiliotest"
	"github.com/aftercare/aftercare/store"
)

// MorningResult is the morning burst: many clinics, each sending from its
// own number, with every patient's text due at the same instant, against a
// Twilio API that answers after a realistic round trip, with the daemon's
// shipped settings.
type MorningResult struct {
	Clinics     int     `json:"clinics"`
	Patients    int     `json:"patients_per_clinic"`
	Messages    int     `json:"messages"`
	APIDelayMS  float64 `json:"api_delay_ms"`
	Concurrency int     `json:"concurrency"`
	// LastHandedSeconds is from the instant everything fell due until the
	// last text reached the (loopback) Twilio API.
	LastHandedSeconds float64 `json:"last_handed_seconds"`
	// DoneSeconds is until the last outcome was committed.
	DoneSeconds float64 `json:"done_seconds"`
	PerSec      float64 `json:"per_sec"`
	// Lateness of each text's arrival at the API after it fell due.
	P50MS float64 `json:"lateness_p50_ms"`
	P99MS float64 `json:"lateness_p99_ms"`
	// SenderDisplacement is, over all senders, the farthest a text reached
	// Twilio from its place in its sender's due order (in texts): sends in
	// flight together can overtake one another, nothing else may.
	SenderDisplacement int `json:"sender_max_displacement"`
	Lost               int `json:"lost"`
	Doubled            int `json:"doubled"`
}

// runMorning seeds clinics × patients texts due at one instant a few
// seconds ahead, each clinic with its own Twilio number, starts the daemon
// with its default dispatch settings (cron-driven, as deployed) and a
// loopback Twilio that answers each create after delay, and times the
// burst.
func runMorning(ctx context.Context, dir string, clinics, patients int, delay time.Duration, o daemonOptions, prof *profiler) (MorningResult, error) {
	r := MorningResult{Clinics: clinics, Patients: patients, Messages: clinics * patients, APIDelayMS: ms(delay)}
	now := time.Now()
	b, err := newBase(ctx, filepath.Join(dir, "morning.db"), now, now.Add(20*time.Hour))
	if err != nil {
		return r, err
	}
	froms, err := morningClinics(ctx, b, clinics)
	if err != nil {
		return r, err
	}
	// Seeded parked far ahead and released once the daemon is up (see
	// release): the burst instant comes from the setup finishing, not a
	// wall-clock budget for it.
	parked := now.Add(10 * time.Hour).Truncate(time.Millisecond)
	sd, err := openSeeder(b, now)
	if err != nil {
		return r, err
	}
	if err := sd.morning(ctx, froms, patients, parked); err != nil {
		sd.Close()
		return r, err
	}
	if err := sd.Close(); err != nil {
		return r, err
	}
	o = daemonOptions{Cron: true, Defaults: true, Log: o.Log} // the defaults, as deployed
	d, err := startDaemon(b.path, o)
	if err != nil {
		return r, err
	}
	defer d.Close()
	d.tw.SetDelay(delay) // nothing is due before the release
	r.Concurrency = d.app.Config.Dispatch.Concurrency
	pc, err := openCounter(b.path)
	if err != nil {
		return r, err
	}
	defer pc.Close()
	_, at, err := release(ctx, b, parked, releaseLead(r.Messages))
	if err != nil {
		return r, err
	}
	stop := prof.start("morning")
	done, err := pc.waitDrained(ctx, at, 10*time.Millisecond, 10*time.Minute, time.Now)
	stop()
	if err != nil {
		return r, fmt.Errorf("morning: %w", err)
	}
	r.DoneSeconds = done.Sub(at).Seconds()

	var late []time.Duration
	var last time.Time
	for _, a := range d.tw.Attempts() {
		if a.Status != 201 {
			continue
		}
		late = append(late, a.At.Sub(at))
		if a.At.After(last) {
			last = a.At
		}
	}
	q := quantiles(late)
	r.P50MS, r.P99MS = ms(q.p50), ms(q.p99)
	r.LastHandedSeconds = last.Sub(at).Seconds()
	if r.LastHandedSeconds > 0 {
		r.PerSec = float64(r.Messages) / r.LastHandedSeconds
	}
	v, err := verify(ctx, d, r.Messages)
	r.Lost, r.Doubled = v.Lost, v.Doubled
	if err != nil {
		return r, fmt.Errorf("morning: %w", err)
	}
	r.SenderDisplacement, err = senderDisplacement(ctx, d.app.Store, d.tw.Sent())
	if err != nil {
		return r, err
	}
	return r, nil
}

// morningClinics creates n clinics, each with its own Twilio number, and
// returns their ids and numbers.
func morningClinics(ctx context.Context, b base, n int) ([]aftercare.Clinic, error) {
	st, err := store.Open(ctx, b.path, store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := make([]aftercare.Clinic, n)
	for k := range out {
		c, _, err := st.CreateClinic(ctx, aftercare.Clinic{Name: fmt.Sprintf("Clinic %d", k), Phone: "+14155550111",
			Timezone: b.zone, SMSFrom: fmt.Sprintf("+1415666%04d", k), AlertEmail: "staff@glow.example"})
		if err != nil {
			return nil, fmt.Errorf("create clinic %d: %w", k, err)
		}
		out[k] = c
	}
	return out, nil
}

// morning adds, for each clinic, patients patients (consenting, enrolled)
// with one text each (the template's first text) due at at. Ids run
// clinic by clinic.
func (s *seeder) morning(ctx context.Context, clinics []aftercare.Clinic, patients int, at time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := s.template(ctx, tx, "sms"); err != nil {
		return err
	}
	for k, c := range clinics {
		var maxP, maxE int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM patients`).Scan(&maxP); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM enrollments`).Scan(&maxE); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, qSeq+`INSERT INTO patients(clinic_id, first_name, last_name, phone, email, timezone, created_at, updated_at)
			SELECT ?, 'Ana', 'Diaz ' || i, printf('+1646%03d%04d', 200 + ?, i), 'p' || ? || '-' || i || '@example.com', ?, ?, ? FROM seq`,
			patients, c.ID, k%800, k, s.b.zone, s.now, s.now); err != nil {
			return fmt.Errorf("seed patients: %w", err)
		}
		for _, ch := range []string{"sms", "email"} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO consents(patient_id, channel, granted, at, method, wording_version)
				SELECT id, ?, 1, ?, 'front_desk', ? FROM patients WHERE id > ?`, ch, s.now, aftercare.ConsentWordingVersion, maxP); err != nil {
				return fmt.Errorf("seed consents: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO enrollments(clinic_id, patient_id, treatment, treated_at, session_number,
				series_length, external_ref, idempotency_key, request_hash, created_at)
			SELECT clinic_id, id, 'microneedling', ?, 1, 3, 'seed-' || id, '', '', ? FROM patients WHERE id > ? ORDER BY id`,
			s.now, s.now, maxP); err != nil {
			return fmt.Errorf("seed enrollments: %w", err)
		}
		var maxM int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM messages`).Scan(&maxM); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages(enrollment_id, clinic_id, patient_id, step, occurrence, channel,
				send_at, stale_at, status, next_attempt_at, subject, body, html_body, updated_at)
			SELECT e.id, e.clinic_id, e.patient_id, t.step, 0, t.channel, ?, ? + 3600000, 'scheduled', ?, t.subject, t.body, t.html_body, ?
			FROM enrollments e JOIN tpl t ON t.k = 0 WHERE e.id > ? ORDER BY e.id`,
			at.UnixMilli(), at.UnixMilli(), at.UnixMilli(), s.now, maxE); err != nil {
			return fmt.Errorf("seed morning texts: %w", err)
		}
		if err := s.events(ctx, tx, maxM); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// senderDisplacement compares, for every sender, the order its texts
// reached the API with their due order (due time, then id), and returns
// the largest distance any text moved.
func senderDisplacement(ctx context.Context, st *store.Store, arrived []twiliotest.Message) (int, error) {
	type msg struct {
		due time.Time
		id  int64
	}
	bySender := map[string][]msg{} // in arrival order
	for _, a := range arrived {
		m, err := st.MessageByProviderID(ctx, a.SID)
		if err != nil {
			return 0, fmt.Errorf("morning: text %s: %w", a.SID, err)
		}
		bySender[a.From] = append(bySender[a.From], msg{m.NextAttemptAt, m.ID})
	}
	worst := 0
	for _, ms := range bySender {
		due := make([]int, len(ms)) // arrival index -> due rank
		idx := make([]int, len(ms))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool {
			x, y := ms[idx[a]], ms[idx[b]]
			if !x.due.Equal(y.due) {
				return x.due.Before(y.due)
			}
			return x.id < y.id
		})
		for rank, i := range idx {
			due[i] = rank
		}
		for i, rank := range due {
			worst = max(worst, abs(i-rank))
		}
	}
	return worst, nil
}
