package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/store"
)

// csrfField is the hidden form field carrying the CSRF token.
const csrfField = "csrf_token"

// NormalizeEmail validates a staff email and returns it lower-cased, the
// form users are stored and looked up in.
func NormalizeEmail(s string) (string, error) {
	e, err := enroll.NormalizeEmail(s)
	if err != nil {
		return "", err
	}
	if e == "" {
		return "", aftercare.FieldError("email", "required")
	}
	return strings.ToLower(e), nil
}

// randomToken returns 32 random bytes, URL-safe base64.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashToken is the stored form of a session token.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// tokensEqual compares two tokens in constant time; empty never matches.
func tokensEqual(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Cookie names. Over HTTPS the __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain.
func (c *Console) sessionCookie() string {
	if c.secure {
		return "__Host-aftercare_session"
	}
	return "aftercare_session"
}

func (c *Console) loginCookie() string {
	if c.secure {
		return "__Host-aftercare_login"
	}
	return "aftercare_login"
}

// setCookie sets an HttpOnly cookie for the whole site; maxAge < 0 deletes
// it. Only Max-Age is sent (no Expires), so the browser's clock decides.
func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int, same http.SameSite) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: c.secure, SameSite: same})
}

// session returns the signed-in session of a request, or an EUNAUTHORIZED
// error.
func (c *Console) session(r *http.Request) (*store.Session, error) {
	ck, err := r.Cookie(c.sessionCookie())
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, aftercare.Errorf(aftercare.EUNAUTHORIZED, "not signed in")
	}
	s, err := c.store.SessionByToken(r.Context(), hashToken(ck.Value))
	if err != nil {
		return nil, err
	}
	// Each use pushes the idle deadline forward; to spare the database a
	// write per request, only when it moved by more than a minute (or a
	// tenth of the idle timeout, if shorter).
	next := c.now().Add(c.idle)
	if next.Sub(s.IdleUntil) > min(time.Minute, c.idle/10) && s.IdleUntil.Before(s.ExpiresAt) {
		if err := c.store.TouchSession(r.Context(), s.TokenHash, next); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// loginView is the data of the sign-in page.
type loginView struct {
	Email    string
	Next     string
	Error    string
	Notice   string
	Token    string // the login form's CSRF token
	Clinics  []aftercare.Clinic
	ClinicID int64
}

// loginToken returns the login form's CSRF token (double-submit: the same
// random value in a cookie and a hidden field), setting the cookie if the
// browser has none.
func (c *Console) loginToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if ck, err := r.Cookie(c.loginCookie()); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 100 {
		return ck.Value, nil
	}
	tok, err := randomToken()
	if err != nil {
		return "", err
	}
	c.setCookie(w, c.loginCookie(), tok, 3600, http.SameSiteStrictMode)
	return tok, nil
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := c.session(r); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	tok, err := c.loginToken(w, r)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	v := loginView{Next: r.URL.Query().Get("next"), Token: tok}
	switch r.URL.Query().Get("signed_out") {
	case "":
	case "everywhere":
		v.Notice = "You have signed out on every browser and device."
	default:
		v.Notice = "You have signed out."
	}
	c.render(w, r, http.StatusOK, "login", c.view(nil, "Sign in", "", v))
}

// login checks the form's CSRF token and the sign-in throttle (per
// account and per client IP), then, holding one of the bounded password
// check slots, the password against every account with this email (at
// most one per clinic), and starts a session at the matching clinic. When
// the password matches accounts at several clinics, the user picks one.
//
// An unknown email costs the same work (one bcrypt check at the same cost
// against a dummy hash, the same throttle writes) and gets the same answer
// as a wrong password, and it is throttled like a real account, so neither
// the answer, its timing nor the throttle tells which addresses exist.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, nil, aftercare.Errorf(aftercare.EINVALID, "the form could not be read"))
		return
	}
	f := r.PostForm
	v := loginView{Email: strings.TrimSpace(f.Get("email")), Next: f.Get("next")}
	tok, err := c.loginToken(w, r)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	v.Token = tok
	if !tokensEqual(f.Get(csrfField), tok) {
		v.Error = "The sign-in form had expired. Please try again."
		c.render(w, r, http.StatusForbidden, "login", c.view(nil, "Sign in", "", v))
		return
	}
	email := strings.ToLower(v.Email)
	password := f.Get("password")
	if email == "" || password == "" || len(email) > 254 || len(password) > 200 {
		v.Error = "Enter your email and password."
		c.render(w, r, http.StatusUnprocessableEntity, "login", c.view(nil, "Sign in", "", v))
		return
	}
	ctx := r.Context()
	now := c.now()
	account, ip := accountKey(email), "ip:"+c.clientIP(r)
	until, err := c.store.LoginBlockedUntil(ctx, now, account, ip)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if !until.IsZero() {
		c.tooMany(w, r, v, until.Sub(now))
		return
	}
	release, ok := c.checks.enter(ctx)
	if !ok {
		c.log.WarnContext(ctx, "console sign-in refused: password checks busy")
		v.Error = "Sign-in is busy right now. Wait a few seconds, then try again."
		w.Header().Set("Retry-After", "5")
		c.render(w, r, http.StatusServiceUnavailable, "login", c.view(nil, "Sign in", "", v))
		return
	}
	users, err := c.store.UsersByEmail(ctx, email)
	if err != nil {
		release()
		c.fail(w, r, nil, err)
		return
	}
	matched := c.checkPassword(users, password)
	release()
	if len(matched) == 0 {
		c.auditSignInFailed(r, users)
		c.log.InfoContext(ctx, "console sign-in refused")
		blocked, err := c.recordFailure(ctx, now, account, ip)
		if err != nil {
			c.fail(w, r, nil, err)
			return
		}
		v.Error = "That email and password do not match an account."
		if blocked > 0 {
			v.Error += " " + waitMessage(blocked)
		}
		c.render(w, r, http.StatusUnauthorized, "login", c.view(nil, "Sign in", "", v))
		return
	}
	u := matched[0]
	if len(matched) > 1 {
		chosen, _ := strconv.ParseInt(f.Get("clinic"), 10, 64)
		found := false
		for _, m := range matched {
			if m.ClinicID == chosen {
				u, found = m, true
			}
		}
		if !found {
			for _, m := range matched {
				cl, err := c.store.Clinic(ctx, m.ClinicID)
				if err != nil {
					c.fail(w, r, nil, err)
					return
				}
				v.Clinics = append(v.Clinics, cl)
			}
			v.Notice = "This account belongs to more than one clinic. Choose the clinic, and enter your password again."
			c.render(w, r, http.StatusOK, "login", c.view(nil, "Sign in", "", v))
			return
		}
	}
	if err := c.store.ClearLoginFailures(ctx, account); err != nil {
		c.log.WarnContext(ctx, "clear sign-in failures", "err", err)
	}
	if err := c.startSession(w, r, u); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if err := c.store.RecordAudit(ctx, aftercare.AuditEntry{ClinicID: u.ClinicID, Action: aftercare.AuditSignIn,
		Actor: aftercare.Actor{Kind: aftercare.ActorStaff, ID: u.ID, Label: u.Email, IP: c.clientIP(r)}}); err != nil {
		c.log.ErrorContext(ctx, "audit sign-in", "err", err)
	}
	c.log.InfoContext(ctx, "console sign-in", "clinic_id", u.ClinicID, "user_id", u.ID)
	http.Redirect(w, r, safeNext(v.Next), http.StatusSeeOther)
}

// tooMany answers a sign-in refused by the throttle. It names neither the
// account nor the address: the answer is the same whether the email exists.
func (c *Console) tooMany(w http.ResponseWriter, r *http.Request, v loginView, wait time.Duration) {
	c.log.WarnContext(r.Context(), "console sign-in throttled", "retry_after_s", int(wait.Seconds()))
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	v.Error = "Too many failed sign-ins for this account or from this network. " + waitMessage(wait)
	c.render(w, r, http.StatusTooManyRequests, "login", c.view(nil, "Sign in", "", v))
}

// waitMessage tells how long to wait, rounded up to whole minutes.
func waitMessage(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "Wait a minute, then try again."
	}
	return fmt.Sprintf("Wait %d minutes, then try again.", m)
}

// accountKey is the throttle key of an email (known or not).
func accountKey(email string) string { return "account:" + email }

// recordFailure counts a failed sign-in against the account and the client
// IP and returns how long the account or the IP is now blocked (0: not).
func (c *Console) recordFailure(ctx context.Context, now time.Time, account, ip string) (time.Duration, error) {
	ctx = context.WithoutCancel(ctx)
	_, au, err := c.store.LoginFailure(ctx, account, now, c.limits.ResetAfter, c.limits.accountBlock)
	if err != nil {
		return 0, err
	}
	_, iu, err := c.store.LoginFailure(ctx, ip, now, c.limits.ResetAfter, c.limits.ipBlock)
	if err != nil {
		return 0, err
	}
	return max(au.Sub(now), iu.Sub(now), 0), nil
}

// checkPassword returns the users whose hash matches password. An empty
// list is checked against the dummy hash so it costs the same: one check at
// the same bcrypt cost.
func (c *Console) checkPassword(users []store.User, password string) []store.User {
	if len(users) == 0 {
		_ = c.compare(c.dummy, []byte(password))
		return nil
	}
	var out []store.User
	for _, u := range users {
		if c.compare([]byte(u.PasswordHash), []byte(password)) == nil {
			out = append(out, u)
		}
	}
	return out
}

// startSession creates a fresh session (a new token at every sign-in) and
// sets its cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	tok, err := randomToken()
	if err != nil {
		return err
	}
	csrf, err := randomToken()
	if err != nil {
		return err
	}
	now := c.now().UTC()
	if err := c.store.CreateSession(r.Context(), store.Session{TokenHash: hashToken(tok), UserID: u.ID,
		ClinicID: u.ClinicID, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(c.ttl), IdleUntil: now.Add(c.idle)}); err != nil {
		return err
	}
	bg := context.WithoutCancel(r.Context())
	if _, err := c.store.DeleteExpiredSessions(bg); err != nil {
		c.log.WarnContext(r.Context(), "delete expired console sessions", "err", err)
	}
	if _, err := c.store.PruneLoginThrottles(bg, now, now.Add(-c.limits.ResetAfter)); err != nil {
		c.log.WarnContext(r.Context(), "prune sign-in throttle", "err", err)
	}
	if _, err := c.store.PruneRateLimits(bg, now); err != nil {
		c.log.WarnContext(r.Context(), "prune rate limits", "err", err)
	}
	c.setCookie(w, c.sessionCookie(), tok, int(c.ttl/time.Second), http.SameSiteLaxMode)
	c.setCookie(w, c.loginCookie(), "", -1, http.SameSiteStrictMode)
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	if err := c.store.DeleteSession(r.Context(), s.TokenHash); err != nil {
		return err
	}
	c.setCookie(w, c.sessionCookie(), "", -1, http.SameSiteLaxMode)
	c.log.InfoContext(r.Context(), "console sign-out", "clinic_id", s.ClinicID, "user_id", s.UserID)
	http.Redirect(w, r, "/console/login?signed_out=1", http.StatusSeeOther)
	return nil
}

// logoutEverywhere ends every session of the signed-in user, on every
// browser and device, this one included.
func (c *Console) logoutEverywhere(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	n, err := c.store.DeleteUserSessions(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	c.setCookie(w, c.sessionCookie(), "", -1, http.SameSiteLaxMode)
	c.log.InfoContext(r.Context(), "console sign-out everywhere", "clinic_id", s.ClinicID, "user_id", s.UserID, "sessions", n)
	http.Redirect(w, r, "/console/login?signed_out=everywhere", http.StatusSeeOther)
	return nil
}

// safeNext returns where to go after signing in: a console path of this
// site, never another site ("//evil.example", "https://...").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "/console/login") ||
		strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "//") {
		return "/console/enroll"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/console/enroll"
	}
	return next
}

// clientIP is the address sign-in limits count against: the value the
// trusted reverse proxy put in the configured header (the last address of
// an X-Forwarded-For list, the one our proxy appended; earlier ones are
// the client's to forge), else the connection's remote address. IPv6
// addresses count by their /64, which one client usually holds whole.
// Without a configured header the header is ignored, so a client cannot
// pick its own address.
func (c *Console) clientIP(r *http.Request) string {
	if c.proxyHeader != "" {
		if vs := r.Header.Values(c.proxyHeader); len(vs) > 0 {
			last := vs[len(vs)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				return ipKey(ip)
			}
		}
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ipKey(ap.Addr())
	}
	if ip, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return ipKey(ip)
	}
	return r.RemoteAddr
}

func ipKey(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Limits are the sign-in throttle's settings. A key (an account's email,
// known or not, or a client IP) may fail Free times; each further failure
// blocks it for Backoff, doubling per failure up to the cap. Failures
// further apart than ResetAfter start the count again. A block is never
// permanent, and while a key is blocked its attempts are refused without a
// password check and without counting, so an attacker cannot extend an
// account's block by hammering it: once the block ends, its owner can sign
// in. Success clears the account's count, never the IP's (signing in to
// one's own account does not buy more guesses at others).
type Limits struct {
	AccountFree       int
	AccountBackoff    time.Duration
	AccountBackoffMax time.Duration
	IPFree            int
	IPBackoff         time.Duration
	IPBackoffMax      time.Duration
	ResetAfter        time.Duration
}

// DefaultLimits are 5 failures per account, then blocks of 1, 2, 4, 8,
// 15, 15 ... minutes; 20 per client IP (an office behind one address),
// then 1 minute doubling up to an hour; counts reset after an hour without
// failures.
func DefaultLimits() Limits {
	return Limits{
		AccountFree: 5, AccountBackoff: time.Minute, AccountBackoffMax: 15 * time.Minute,
		IPFree: 20, IPBackoff: time.Minute, IPBackoffMax: time.Hour,
		ResetAfter: time.Hour,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.AccountFree <= 0 {
		l.AccountFree = d.AccountFree
	}
	if l.AccountBackoff <= 0 {
		l.AccountBackoff = d.AccountBackoff
	}
	if l.AccountBackoffMax < l.AccountBackoff {
		l.AccountBackoffMax = max(d.AccountBackoffMax, l.AccountBackoff)
	}
	if l.IPFree <= 0 {
		l.IPFree = d.IPFree
	}
	if l.IPBackoff <= 0 {
		l.IPBackoff = d.IPBackoff
	}
	if l.IPBackoffMax < l.IPBackoff {
		l.IPBackoffMax = max(d.IPBackoffMax, l.IPBackoff)
	}
	if l.ResetAfter <= 0 {
		l.ResetAfter = d.ResetAfter
	}
	return l
}

func (l Limits) accountBlock(n int) time.Duration {
	return backoff(n, l.AccountFree, l.AccountBackoff, l.AccountBackoffMax)
}

func (l Limits) ipBlock(n int) time.Duration {
	return backoff(n, l.IPFree, l.IPBackoff, l.IPBackoffMax)
}

// backoff is the block after the n-th consecutive failure: none before
// free failures, then base doubling per failure, capped.
func backoff(n, free int, base, limit time.Duration) time.Duration {
	if n < free {
		return 0
	}
	d := base
	for i := free; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// gate bounds the password checks (bcrypt, deliberately slow) running at
// once, so a flood of sign-in attempts cannot take every core from the API
// and the dispatcher. A check waits at most wait for a slot, and only
// queue checks may wait at once; the rest are refused at once (503).
type gate struct {
	slots   chan struct{}
	waiting atomic.Int32
	queue   int32
	wait    time.Duration
}

func newGate(slots, queue int, wait time.Duration) *gate {
	return &gate{slots: make(chan struct{}, slots), queue: int32(queue), wait: wait}
}

// enter takes a slot; release gives it back. ok is false when none came
// free in time.
func (g *gate) enter(ctx context.Context) (release func(), ok bool) {
	release = func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, true
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		return nil, false
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

// pathID parses the {id} of a route; anything but a positive integer is
// "not found".
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, aftercare.Errorf(aftercare.ENOTFOUND, "not found")
	}
	return id, nil
}
