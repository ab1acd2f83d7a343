package store

import (
	"context"
	"hash/fnv"
)

// leader is what a driver shared by several processes offers so that one
// of them at a time runs a periodic job (PostgreSQL: a session advisory
// lock on a connection of its own).
type leader interface {
	TryLead(ctx context.Context, key int64) (release func(), ok bool, err error)
}

// Lead runs one round of the periodic job named job if no other process
// on the database is running a round of it, and reports whether it ran.
// On SQLite, where one daemon owns the file, it always runs. On
// PostgreSQL the round holds the job's advisory lock from start to end,
// so replicas take turns and a replica that dies mid-round frees the lock
// with its connection; any replica may run the next round.
func (s *Store) Lead(ctx context.Context, job string, run func(ctx context.Context) error) (ran bool, err error) {
	l, ok := s.d.(leader)
	if !ok {
		return true, run(ctx)
	}
	h := fnv.New64a()
	h.Write([]byte(job))
	release, ok, err := l.TryLead(ctx, int64(h.Sum64()))
	if err != nil || !ok {
		return false, err
	}
	defer release()
	return true, run(ctx)
}

// Shared reports whether several daemons may run on this database at once
// (PostgreSQL); SQLite is one daemon per file.
func (s *Store) Shared() bool {
	_, ok := s.d.(leader)
	return ok
}
