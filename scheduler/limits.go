package scheduler

import (
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/store"
)

// Limits where the providers put them.
//
// Twilio limits throughput per sender (a number or a Messaging Service) and
// queues what a sender cannot send yet; a queued text that outlives its
// ValidityPeriod (which Send sets to the step's stale time) is dropped by
// Twilio with 30036, and the receipt says so. Its API also limits requests
// in flight per account (100 by default), answering 429/20429 past that.
// So by default the dispatcher puts no cap of its own on a sender's rate:
// a cap below what Twilio accepts and queues would only make texts later.
// It keeps up to Config.Concurrency sends in flight across the account,
// and lets each sender's share adapt (AIMD): a 429 halves the sender's
// sends in flight (at most once per pause) and pauses it for Retry-After
// (at least minPause); every accepted send adds one back, up to the cap.
// 429s from two different senders within throttleSpread are taken for the
// account's limit and slow the whole channel the same way.
//
// One sender's limits never hold up another's texts: each sender has its
// own queue within a claimed batch, the next send is always the earliest
// due message among the senders able to send now, and a sender that cannot
// send soon has its queue deferred (back to scheduled, at the time it
// could go out) instead of waiting in the batch.

// minPause is how long a sender waits after a 429 without Retry-After.
const minPause = time.Second

// throttleSpread: 429s from two senders this close together mean the
// account's limit, not one sender's.
const throttleSpread = time.Second

// deferAfter: once nothing else is in flight, a sender's queued messages
// that could not start within this long are deferred rather than waited
// for, so the next batch is claimed.
const deferAfter = 50 * time.Millisecond

// DefaultEmailConcurrency caps emails in flight when Config says nothing.
// It is also the most emails a crash can send twice (SMTP has no lookup).
const DefaultEmailConcurrency = 16

// SenderLimit limits one sender. Zero values mean no limit of its own.
type SenderLimit struct {
	Rate        float64 // messages/s
	Concurrency int     // sends in flight
}

// sender is the dispatcher's state of one sending identity (or, for a
// channel as a whole, of the provider account), kept across batches and
// touched only by the goroutine running a batch.
type sender struct {
	key  string
	ch   aftercare.Channel
	lim  *rate.Limiter // nil: no rate cap
	max  int           // sends in flight allowed, at most Config.Concurrency
	hold bool          // keep a send's slot until its outcome is durable (no lookup at the provider)

	cwnd        float64   // adaptive share of max
	pausedUntil time.Time // wall clock
	lastCut     time.Time
	inflight    int
	// lastThrottleKey and lastThrottle: the latest 429 on this channel
	// (channel state only).
	lastThrottleKey string
	lastThrottle    time.Time
}

func newSender(key string, ch aftercare.Channel, r float64, maxInFlight int, hold bool) *sender {
	s := &sender{key: key, ch: ch, max: maxInFlight, hold: hold, cwnd: float64(maxInFlight)}
	if r > 0 {
		s.lim = rate.NewLimiter(rate.Limit(r), int(math.Max(1, math.Ceil(r/10))))
	}
	return s
}

// window is how many sends may be in flight now.
func (s *sender) window() int { return max(1, min(s.max, int(s.cwnd))) }

// wait is how long from now until the sender may start a send (pause and
// rate), zero if it may now.
func (s *sender) wait(now time.Time) time.Duration {
	var w time.Duration
	if s.pausedUntil.After(now) {
		w = s.pausedUntil.Sub(now)
	}
	if s.lim != nil {
		if tok := s.lim.TokensAt(now); tok < 1 {
			w = max(w, time.Duration((1-tok)/float64(s.lim.Limit())*float64(time.Second)))
		}
	}
	return w
}

// take spends the rate token of a send starting now.
func (s *sender) take(now time.Time) {
	if s.lim != nil {
		s.lim.AllowN(now, 1)
	}
}

// throttled slows the sender after a 429: pause for retryAfter (at least
// minPause) and halve the sends in flight, once per pause.
func (s *sender) throttled(now time.Time, retryAfter time.Duration) {
	pause := max(retryAfter, minPause)
	if until := now.Add(pause); until.After(s.pausedUntil) {
		s.pausedUntil = until
	}
	if now.Sub(s.lastCut) >= pause {
		s.cwnd = math.Max(1, float64(s.window())/2)
		s.lastCut = now
	}
}

// accepted grows the sends in flight back by one, up to the cap.
func (s *sender) accepted() {
	s.cwnd = math.Min(float64(s.max), s.cwnd+1)
}

// limNow is the time rate limits and pauses are measured on: the
// injected clock, except that the wall clock's progress counts too when
// it went further since the dispatcher was built. In production the two
// agree; a test can fast-forward a pause (Retry-After) or a slow rate on
// its virtual clock, and a test whose clock stands still still sees a fast
// rate refill in real time.
func (d *Dispatcher) limNow() time.Time {
	return d.limBase.Add(max(time.Since(d.limWall), d.clock.Now().Sub(d.limBase)))
}

// senderKey names the sending identity of a claimed message: for SMS the
// clinic's Messaging Service, else its number, else the account's default
// sender; for email the one SMTP account.
func senderKey(c store.Claimed) (key, name string) {
	ch := c.Message.Channel
	if ch == aftercare.SMS {
		switch {
		case c.Clinic.MessagingServiceSID != "":
			return "sms:" + c.Clinic.MessagingServiceSID, c.Clinic.MessagingServiceSID
		case c.Clinic.SMSFrom != "":
			return "sms:" + c.Clinic.SMSFrom, c.Clinic.SMSFrom
		}
		return "sms:", ""
	}
	return string(ch) + ":", ""
}

// InFlightAllowed reports the sends in flight a sender (number, short code,
// alphanumeric ID or Messaging Service SID; "" for the account's default)
// and its channel as a whole are allowed now, after any slowing down for
// 429s. A sender not used yet reports its configured cap as 0.
func (d *Dispatcher) InFlightAllowed(ch aftercare.Channel, name string) (sender, channel int) {
	d.limMu.Lock()
	defer d.limMu.Unlock()
	if s := d.sendersByKey[string(ch)+":"+name]; s != nil {
		sender = s.window()
	}
	if s := d.channels[ch]; s != nil {
		channel = s.window()
	}
	return sender, channel
}

// senderFor returns the state of a claimed message's sender, creating it
// with its configured limits on first use.
func (d *Dispatcher) senderFor(c store.Claimed) *sender {
	key, name := senderKey(c)
	if s := d.sendersByKey[key]; s != nil {
		return s
	}
	ch := c.Message.Channel
	lim := SenderLimit{Rate: d.cfg.SenderRate[ch], Concurrency: d.cfg.SenderConcurrency[ch]}
	if o, ok := d.cfg.Senders[name]; ok && name != "" {
		lim = o
	}
	n := d.cfg.Concurrency
	if lim.Concurrency > 0 {
		n = min(n, lim.Concurrency)
	}
	_, finder := d.senders[ch].(notify.Finder)
	s := newSender(key, ch, lim.Rate, n, !finder)
	d.limMu.Lock()
	d.sendersByKey[key] = s
	d.limMu.Unlock()
	return s
}

// channelFor returns the account-wide state of a channel.
func (d *Dispatcher) channelFor(ch aftercare.Channel) *sender {
	if s := d.channels[ch]; s != nil {
		return s
	}
	s := newSender("account:"+string(ch), ch, d.cfg.Rate[ch], d.cfg.Concurrency, false)
	d.limMu.Lock()
	d.channels[ch] = s
	d.limMu.Unlock()
	return s
}

// throttle applies a 429 on sender s to it and, when another sender of the
// channel was throttled moments before, to the whole channel.
func (d *Dispatcher) throttle(s, chs *sender, now time.Time, retryAfter time.Duration) (account bool) {
	s.throttled(now, retryAfter)
	if chs.lastThrottleKey != "" && chs.lastThrottleKey != s.key && now.Sub(chs.lastThrottle) < throttleSpread {
		chs.throttled(now, retryAfter)
		account = true
	}
	chs.lastThrottleKey, chs.lastThrottle = s.key, now
	return account
}
