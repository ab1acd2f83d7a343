package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Allow takes one request of key from a bucket of burst requests that
// refills one every every, and reports whether it was allowed. The bucket
// lives in the database, so every replica shares it (a limit per process
// would let N replicas allow N times the burst).
func (s *Store) Allow(ctx context.Context, key string, now time.Time, every time.Duration, burst int) (bool, error) {
	if burst < 1 {
		burst = 1
	}
	n, e := ms(now), every.Milliseconds()
	var tat int64
	err := s.write.QueryRowContext(ctx, qAllow, key, n+e, n, n, e, n, n, n, int64(burst-1)*e).Scan(&tat)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rate limit: %w", err)
	}
	return true, nil
}

// PruneRateLimits deletes buckets that have refilled by now (their rows
// would allow the next request anyway).
func (s *Store) PruneRateLimits(ctx context.Context, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, qPruneRateLimits, ms(now))
	if err != nil {
		return 0, fmt.Errorf("prune rate limits: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
