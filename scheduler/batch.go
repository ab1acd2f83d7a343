package scheduler

import (
	"context"
	"errors"
	"sort"
	"sync/atomic"
	"time"

	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/store"
)

type result struct {
	out      store.Outcome
	action   notify.Action
	latency  time.Duration
	lateness time.Duration
	err      *notify.Error // the classified failure, if any
}

// lane is one sender's queue within a batch: indexes into the batch, in
// due order.
type lane struct {
	s *sender
	q []int
}

// sendDone is a finished provider call, reported to the batch loop.
type sendDone struct {
	i        int
	r        result
	throttle *notify.Error // non-nil: a 429; the message goes back to its queue
}

// durable reports that the outcomes of these batch indexes were committed
// (or that committing them failed).
type durable struct{ idx []int }

// handleBatch sends a claimed batch and commits every outcome.
//
// Each message goes to its sender's lane (see senderKey); the loop starts
// the earliest due message among the lanes able to send now, so the order
// is earliest due first across senders, and each sender's sends start in
// its due order, except that a patient's next message waits (letting the
// sender's later messages to other patients pass) while their previous
// one is in flight: one patient's messages reach the provider in order,
// while sends in flight together for different patients may arrive in any
// order among them. A lane is able to send when its sender and its channel are not
// paused (429), have a rate token, and have fewer sends in flight than
// their adaptive windows; globally at most Concurrency sends are in
// flight and at most Window messages have reached a provider without a
// durable outcome. A sender that must wait never blocks the others, and
// once nothing else is in flight its queue is deferred (see deferAfter).
//
// A send's slot (Concurrency, the sender's window) is freed when the
// provider answers, so the next sends start while the recorder makes a
// group durable (a pipelined group commit); the Window slot is freed when
// the outcome is durable. For a sender the dispatcher cannot ask whether
// an earlier attempt arrived (no notify.Finder: SMTP), its slot is kept
// until the outcome is durable too, so at most that sender's concurrency
// of its messages can be resent after a crash.
//
// It returns what was committed and the first error committing.
func (d *Dispatcher) handleBatch(ctx context.Context, claimedAt time.Time, batch []store.Claimed) (Stats, error) {
	events := make(chan any, d.cfg.Concurrency+8)
	rec := &recorder{d: d, ctx: context.WithoutCancel(ctx), batch: batch,
		in: make(chan recorded, len(batch)), done: make(chan struct{}), events: events}
	go rec.run()
	// A send must start early enough to finish within the lease; past
	// that, housekeeping could recover the message while it is in flight.
	window := d.cfg.Lease - d.cfg.SendTimeout
	if window <= 0 {
		window = d.cfg.Lease / 2
	}
	sendBy := claimedAt.Add(window)

	laneOf := make([]*lane, len(batch))
	var lanes []*lane
	byKey := map[*sender]*lane{}
	queued := 0
	for i := range batch {
		c := batch[i]
		// Decisions that need no provider call.
		if r, done := d.precheck(c); done {
			rec.submit(i, r, false)
			continue
		}
		s := d.senderFor(c)
		ln := byKey[s]
		if ln == nil {
			ln = &lane{s: s}
			byKey[s] = ln
			lanes = append(lanes, ln)
		}
		ln.q = append(ln.q, i)
		laneOf[i] = ln
		queued++
	}

	var st Stats
	inflight, undurable := 0, 0
	// A patient's next text waits while an earlier one is in flight, so a
	// patient's messages reach the provider in due order.
	busyPatients := map[int64]int{}
	releaseAll := func(reason string) {
		for _, ln := range lanes {
			for _, i := range ln.q {
				rec.submit(i, d.release(batch[i], reason), false)
			}
			queued -= len(ln.q)
			ln.q = nil
		}
	}
	// next is the position in ln's queue of the first message whose
	// patient has nothing in flight (-1 if none).
	next := func(ln *lane) int {
		for k, i := range ln.q {
			if busyPatients[batch[i].Message.PatientID] == 0 {
				return k
			}
		}
		return -1
	}
	start := func(ln *lane, k int, now time.Time) {
		i := ln.q[k]
		ln.q = append(ln.q[:k], ln.q[k+1:]...)
		queued--
		chs := d.channelFor(ln.s.ch)
		ln.s.take(now)
		chs.take(now)
		ln.s.inflight++
		chs.inflight++
		busyPatients[batch[i].Message.PatientID]++
		inflight++
		undurable++
		rec.inflight.Add(1)
		go func() {
			r := d.send(context.WithoutCancel(ctx), batch[i])
			ev := sendDone{i: i, r: r}
			if r.err != nil && r.err.Throttled {
				ev.throttle = r.err
			}
			events <- ev
		}()
	}
	// pick returns the ready lane whose next message is due first, or the
	// earliest time a lane waiting on a pause or rate becomes ready.
	pick := func(now time.Time) (*lane, int, time.Time) {
		var best *lane
		bestK := -1
		var wake time.Time
		for _, ln := range lanes {
			if len(ln.q) == 0 {
				continue
			}
			chs := d.channelFor(ln.s.ch)
			if ln.s.inflight >= ln.s.window() || chs.inflight >= chs.window() {
				continue // woken by a finished send
			}
			k := next(ln)
			if k < 0 {
				continue // likewise
			}
			if w := max(ln.s.wait(now), chs.wait(now)); w > 0 {
				if t := now.Add(w); wake.IsZero() || t.Before(wake) {
					wake = t
				}
				continue
			}
			if best == nil || ln.q[k] < best.q[bestK] {
				best, bestK = ln, k
			}
		}
		return best, bestK, wake
	}
	// deferLanes hands back the queued messages that could not start
	// within deferAfter (all of them if force), each at the time its
	// sender could send it.
	deferLanes := func(now time.Time, force bool) {
		for _, ln := range lanes {
			if len(ln.q) == 0 {
				continue
			}
			chs := d.channelFor(ln.s.ch)
			first := max(ln.s.wait(now), chs.wait(now))
			var every time.Duration
			for _, l := range []*sender{ln.s, chs} {
				if l.lim != nil {
					every = max(every, time.Duration(float64(time.Second)/float64(l.lim.Limit())))
				}
			}
			keep := ln.q[:0:0]
			for k, i := range ln.q {
				at := first + time.Duration(k)*every
				if at <= deferAfter && !force {
					keep = append(keep, i)
					continue
				}
				r := d.release(batch[i], "sender limit: "+ln.s.limitReason(now))
				r.out.NextAttemptAt = d.clock.Now().Add(at)
				rec.submit(i, r, false)
				queued--
			}
			ln.q = keep
		}
	}

	// Limits and pauses run on limNow (the injected clock, or the wall
	// clock where it went further); waits for them are real timers. idleWaits counts timed waits
	// with nothing in flight: after one, whatever is still not ready is
	// deferred (with a clock that does not move, it never would be).
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	idleWaits := 0
	for {
		if queued > 0 {
			switch {
			case ctx.Err() != nil:
				releaseAll("dispatcher stopping")
			case rec.failed.Load():
				// Outcomes cannot be committed: send nothing more whose
				// outcome could be lost.
				releaseAll("not sent: recording outcomes failed")
			case d.clock.Now().After(sendBy):
				releaseAll("lease too short to start the send; claimed again")
			}
		}
		var wake time.Time
		now := d.limNow()
		for queued > 0 && inflight < d.cfg.Concurrency && undurable < d.cfg.Window {
			ln, k, w := pick(now)
			if ln == nil {
				wake = w
				break
			}
			start(ln, k, now)
			idleWaits = 0
		}
		if queued > 0 && inflight == 0 && undurable == 0 && !wake.IsZero() && (idleWaits > 0 || wake.Sub(now) > deferAfter) {
			deferLanes(now, idleWaits > 0)
			idleWaits = 0
			continue
		}
		if queued == 0 && inflight == 0 && undurable == 0 {
			break
		}
		var tick <-chan time.Time
		if !wake.IsZero() {
			timer.Reset(max(wake.Sub(now), 0))
			tick = timer.C
			if inflight == 0 && undurable == 0 {
				idleWaits++
			}
		}
		var stop <-chan struct{}
		if queued > 0 {
			stop = ctx.Done()
		}
		select {
		case ev := <-events:
			switch ev := ev.(type) {
			case sendDone:
				ln := laneOf[ev.i]
				chs := d.channelFor(ln.s.ch)
				inflight--
				chs.inflight--
				busyPatients[batch[ev.i].Message.PatientID]--
				if ev.throttle != nil {
					ln.s.inflight--
					undurable--
					rec.inflight.Add(-1)
					st.Throttled++
					if d.observer != nil {
						// Metrics see the refused call as a retry (it will be
						// retried) with the provider's code.
						d.observer.Handled(batch[ev.i].Message.Channel, store.OutcomeRetry, ev.throttle.Code, ev.r.latency, 0)
					}
					d.limMu.Lock()
					account := d.throttle(ln.s, chs, d.limNow(), ev.throttle.RetryAfter)
					d.limMu.Unlock()
					c := batch[ev.i]
					d.log.Info("provider throttled a sender; slowing it down", "clinic_id", c.Message.ClinicID,
						"channel", string(c.Message.Channel), "message_id", c.Message.ID, "retry_after", ev.throttle.RetryAfter,
						"in_flight_allowed", ln.s.window(), "account_wide", account)
					// Back into its queue, in due order.
					k := sort.SearchInts(ln.q, ev.i)
					ln.q = append(ln.q, 0)
					copy(ln.q[k+1:], ln.q[k:])
					ln.q[k] = ev.i
					queued++
					continue
				}
				if !ln.s.hold {
					ln.s.inflight--
				}
				if ev.r.out.Kind == store.OutcomeSent {
					d.limMu.Lock()
					ln.s.accepted()
					chs.accepted()
					d.limMu.Unlock()
				}
				rec.inflight.Add(-1)
				rec.submit(ev.i, ev.r, true)
			case durable:
				for _, i := range ev.idx {
					undurable--
					if ln := laneOf[i]; ln.s.hold {
						ln.s.inflight--
					}
				}
			}
		case <-tick:
		case <-stop:
		}
	}
	close(rec.in)
	<-rec.done
	rec.st.Throttled = st.Throttled
	return rec.st, rec.err
}

// limitReason says why a sender is waiting, for the deferred event.
func (s *sender) limitReason(now time.Time) string {
	switch {
	case s.pausedUntil.After(now):
		return "provider asked us to slow down (429)"
	case s.lim != nil:
		return "rate limit"
	}
	return "limit"
}

// maxGroup caps how many outcomes one commit carries.
const maxGroup = 256

// linger is how long the recorder waits for the sends still in flight
// before committing what it has. A commit costs about the same few page
// writes (and, with synchronous=FULL, one fsync) whether it carries one
// outcome or sixteen: the profile of a drain showed the writer spending
// most of its time on commits of one or two outcomes each, CPU the sends
// needed. Waiting for the sends in flight (at most linger) makes one
// commit per round of sends; against a real provider, whose answers take
// tens of milliseconds, it adds at most linger to each send's turn.
const linger = time.Millisecond

// recorder commits the outcomes of one batch as they arrive, grouping
// whatever is waiting into one transaction (group commit), and tells the
// batch loop which tracked outcomes a commit made durable.
type recorder struct {
	d      *Dispatcher
	ctx    context.Context
	batch  []store.Claimed
	in     chan recorded
	done   chan struct{}
	events chan<- any

	failed   atomic.Bool  // a commit failed: stop sending
	inflight atomic.Int32 // sends started whose outcome is not yet submitted
	st       Stats        // what was committed (owned by run until done)
	err      error        // the first commit error (owned by run until done)
}

type recorded struct {
	i     int
	r     result
	track bool // the batch loop waits for this outcome to be durable
}

// submit never blocks: in holds the whole batch.
func (rc *recorder) submit(i int, r result, track bool) {
	rc.in <- recorded{i: i, r: r, track: track}
}

func (rc *recorder) run() {
	defer close(rc.done)
	var group []recorded
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for first := range rc.in {
		group = append(group[:0], first)
		var deadline time.Time
	drain:
		for len(group) < maxGroup {
			select {
			case more, ok := <-rc.in:
				if !ok {
					break drain
				}
				group = append(group, more)
				continue
			default:
			}
			// Nothing waiting: commit, unless sends are still in flight.
			if rc.inflight.Load() == 0 {
				break
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(linger)
			}
			wait := time.Until(deadline)
			if wait <= 0 {
				break
			}
			timer.Reset(wait)
			select {
			case more, ok := <-rc.in:
				timer.Stop()
				if !ok {
					break drain
				}
				group = append(group, more)
			case <-timer.C:
				break drain
			}
		}
		rc.commit(group)
	}
}

func (rc *recorder) commit(group []recorded) {
	d := rc.d
	outs := make([]store.Outcome, len(group))
	var tracked []int
	for k, g := range group {
		outs[k] = g.r.out
		if g.track {
			tracked = append(tracked, g.i)
		}
		if d.observer != nil {
			d.observer.Handled(rc.batch[g.i].Message.Channel, g.r.out.Kind, g.r.out.ErrorCode, g.r.latency, g.r.lateness)
		}
	}
	// Outcomes are committed even when shutting down: they describe sends
	// that happened.
	err := d.recordDurably(rc.ctx, outs)
	if err != nil {
		rc.failed.Store(true)
		if rc.err == nil {
			rc.err = err
		}
	}
	if len(tracked) > 0 {
		rc.events <- durable{idx: tracked}
	}
	if err != nil {
		return
	}
	for _, g := range group {
		rc.st.add(g.r.out.Kind)
		d.afterRecord(rc.ctx, rc.batch[g.i], g.r)
	}
}

// recordDurably records outcomes, and while the database cannot be
// reached (store.ErrUnavailable: a PostgreSQL restart or failover) tries
// again with backoff for up to half the lease. Giving up sooner would
// leave sends that happened in "sending" until their lease expires, and an
// email (which no provider can be asked about) would then go out twice;
// trying past the lease would be pointless, since lease recovery may have
// taken the messages back by then (every outcome is guarded, so a late
// one would change nothing).
func (d *Dispatcher) recordDurably(ctx context.Context, outs []store.Outcome) error {
	giveUp := time.Now().Add(d.cfg.Lease / 2)
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		_, err := d.outbox.Record(ctx, outs)
		if err == nil || !errors.Is(err, store.ErrUnavailable) || time.Now().Add(wait).After(giveUp) {
			return err
		}
		d.log.Warn("database unavailable: outcomes will be recorded when it is back", "outcomes", len(outs), "attempt", attempt, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, 2*time.Second)
	}
}
