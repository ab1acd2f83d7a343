package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// LatenessResult is how late a steady stream of due messages went out.
type LatenessResult struct {
	Rate     float64 `json:"rate_per_sec"`
	Seconds  float64 `json:"seconds"`
	Messages int     `json:"messages"`
	SMS      int     `json:"sms"`
	Email    int     `json:"email"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
}

// runLateness seeds rate*duration messages (texts and emails in the
// proportions of the real plan) falling due one after another at a steady
// rate, starting once the daemon with its real cron scheduler has
// started, and measures for each the time its outcome was
// stamped (after the provider accepted it) minus its planned send time.
func runLateness(ctx context.Context, dir string, rate float64, dur time.Duration, o daemonOptions, prof *profiler) (LatenessResult, error) {
	now := time.Now()
	b, err := newBase(ctx, filepath.Join(dir, "lateness.db"), now, now.Add(20*time.Hour))
	if err != nil {
		return LatenessResult{}, err
	}
	n := int(rate * dur.Seconds())
	if n < 1 {
		return LatenessResult{}, fmt.Errorf("lateness: rate %g for %s is no message", rate, dur)
	}
	sd, err := openSeeder(b, now)
	if err != nil {
		return LatenessResult{}, err
	}
	// Parked far ahead, the stream is released once the daemon is up, so
	// a slow setup can never make its first messages late.
	parked := now.Add(parkedFor).Truncate(time.Millisecond)
	if err := sd.due(ctx, n, messagesPerPatient, "", parked, time.Duration(float64(time.Second)/rate)); err != nil {
		sd.Close()
		return LatenessResult{}, err
	}
	if err := sd.Close(); err != nil {
		return LatenessResult{}, err
	}
	o.Cron = true
	d, err := startDaemon(b.path, o)
	if err != nil {
		return LatenessResult{}, err
	}
	defer d.Close()
	c, err := openCounter(b.path)
	if err != nil {
		return LatenessResult{}, err
	}
	defer c.Close()

	at, _, err := release(ctx, b, parked, releaseLead(n))
	if err != nil {
		return LatenessResult{}, err
	}
	stop := prof.start("lateness")
	end := at.Add(dur)
	if _, err := c.waitDrained(ctx, end, 100*time.Millisecond, 30*time.Second, time.Now); err != nil {
		stop()
		return LatenessResult{}, fmt.Errorf("lateness: %w", err)
	}
	stop()

	rows, err := c.db.QueryContext(ctx, `SELECT channel, status, send_at, sent_at FROM messages WHERE send_at >= ? AND send_at < ?`,
		at.UnixMilli(), end.Add(time.Second).UnixMilli())
	if err != nil {
		return LatenessResult{}, fmt.Errorf("lateness: %w", err)
	}
	defer rows.Close()
	r := LatenessResult{Rate: rate, Seconds: dur.Seconds()}
	var late []time.Duration
	for rows.Next() {
		var ch, status string
		var sendAt, sentAt int64
		if err := rows.Scan(&ch, &status, &sendAt, &sentAt); err != nil {
			return r, fmt.Errorf("lateness: %w", err)
		}
		if status != "sent" {
			return r, fmt.Errorf("lateness: a %s message ended %s, not sent", ch, status)
		}
		if ch == "sms" {
			r.SMS++
		} else {
			r.Email++
		}
		late = append(late, time.Duration(sentAt-sendAt)*time.Millisecond)
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("lateness: %w", err)
	}
	r.Messages = len(late)
	if r.Messages != n {
		return r, fmt.Errorf("lateness: %d messages sent, want %d", r.Messages, n)
	}
	if got := len(d.tw.Sent()) + len(d.mail.Messages()); got != n {
		return r, fmt.Errorf("lateness: providers received %d messages, want %d", got, n)
	}
	q := quantiles(late)
	r.P50MS, r.P99MS, r.MaxMS = ms(q.p50), ms(q.p99), ms(q.max)
	return r, nil
}
