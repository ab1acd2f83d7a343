package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// prepared holds the dispatcher's and the enrollments' hot statements, prepared once on the
// writer connection when the store opens. Parsing a statement costs more
// than running it (the profile of a drain showed a third of the outbox's
// time in SQLite's parser), and the claim and the outcomes run for every
// message sent.
type prepared struct {
	claim, claimPatients, claimClinics, claimEnrollments, claimEvents *sql.Stmt
	// markSent and events take several rows at once, in the sizes of
	// rowSizes; eventsReturning also returns each event's id.
	markSent, events, eventsReturning map[int]*sql.Stmt
	// One row each.
	message, sent, failed, retry, skipped, released *sql.Stmt
	// The savepoint each enrollment of a group is written under.
	savepoint, release, rollbackTo *sql.Stmt
}

// rowSizes are the multi-row statement sizes, largest first: a group of
// n rows runs as few statements as these sizes allow (e.g. 37 = 16+16+5),
// and the groups the dispatcher commits (up to Concurrency outcomes) run
// as one. A single row runs the plain one-row statement, which is cheaper
// than a one-row UPDATE … FROM.
var rowSizes = []int{64, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}

func prepare(ctx context.Context, db *sql.DB, d Driver) (_ *prepared, err error) {
	p := &prepared{markSent: map[int]*sql.Stmt{}, events: map[int]*sql.Stmt{}, eventsReturning: map[int]*sql.Stmt{}}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	one := func(q string) (*sql.Stmt, error) {
		st, err := db.PrepareContext(ctx, dialect(d, q))
		if err != nil {
			return nil, fmt.Errorf("prepare outbox statements: %w", err)
		}
		return st, nil
	}
	for _, s := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&p.claim, qClaim}, {&p.claimPatients, qClaimPatients}, {&p.claimClinics, qClaimClinics},
		{&p.claimEnrollments, qClaimEnrollments}, {&p.claimEvents, qClaimEvents},
		{&p.message, qInsertMessage}, {&p.sent, qMarkSent}, {&p.failed, qMarkFailedFromSending}, {&p.retry, qMarkRetry},
		{&p.skipped, qMarkSkippedFromSending}, {&p.released, qMarkReleased},
		{&p.savepoint, qSavepoint}, {&p.release, qRelease}, {&p.rollbackTo, qRollbackTo},
	} {
		if *s.dst, err = one(s.q); err != nil {
			return nil, err
		}
	}
	for _, n := range rowSizes {
		if n > 1 {
			if p.markSent[n], err = one(qMarkSentRows(n)); err != nil {
				return nil, err
			}
		}
		if p.events[n], err = one(qInsertEventRows(n)); err != nil {
			return nil, err
		}
		if p.eventsReturning[n], err = one(qInsertEventRowsReturning(n)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *prepared) close() error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, st := range []*sql.Stmt{p.claim, p.claimPatients, p.claimClinics, p.claimEnrollments, p.claimEvents, p.message, p.sent, p.failed, p.retry, p.skipped, p.released,
		p.savepoint, p.release, p.rollbackTo} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, m := range []map[int]*sql.Stmt{p.markSent, p.events, p.eventsReturning} {
		for _, st := range m {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// chunks splits n rows into the sizes of rowSizes, largest first.
func chunks(n int) []int {
	var out []int
	for _, size := range rowSizes {
		for n >= size {
			out = append(out, size)
			n -= size
		}
	}
	return out
}

// readQueries are the reads behind every API request (the clinic of an
// API key) and behind the enrollment view each enrollment answers with.
// They are prepared on the read pool when the store opens (database/sql
// then prepares each on every reader connection the first time it runs
// there); other reads are parsed per call.
var readQueries = []string{qClinicByKey, qSelectEnrollment, qSelectPatient, qSelectConsents,
	qMessagesByEnrollment, qEventsByEnrollment, qRepliesByPatient}

func prepareReads(ctx context.Context, db *sql.DB) (map[string]*sql.Stmt, error) {
	m := make(map[string]*sql.Stmt, len(readQueries))
	for _, q := range readQueries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			closeAll(m)
			return nil, fmt.Errorf("prepare read statements: %w", err)
		}
		m[q] = st
	}
	return m, nil
}

func closeAll(m map[string]*sql.Stmt) error {
	var errs []error
	for _, st := range m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// readRows runs a read query, prepared if it is one of readQueries.
func (s *Store) readRows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := s.reads[q]; st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.read.QueryContext(ctx, q, args...)
}

// readRow runs a one-row read query, prepared if it is one of readQueries.
func (s *Store) readRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.reads[q]; st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.read.QueryRowContext(ctx, q, args...)
}
