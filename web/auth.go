package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/enroll"
	"github.com/aftercare/aftercare/store"
)

// Passwords: bcrypt hashes at bcrypt.DefaultCost; bcrypt reads at most 72
// bytes, so longer passwords are refused rather than silently cut.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 72
)

// csrfField is the hidden form field carrying the CSRF token.
const csrfField = "csrf_token"

// dummyHash returns a bcrypt hash, at the console's cost, of a random
// password nobody knows: a sign-in with an unknown email is checked against
// it, so it takes as long as one with a known email and the response time
// does not tell which addresses have accounts. It is made once, at the
// first unknown email.
func (c *Console) dummyHash() []byte {
	c.dummyOnce.Do(func() {
		pw, err := randomToken()
		if err == nil {
			c.dummy, err = bcrypt.GenerateFromPassword([]byte(pw[:40]), c.cost)
		}
		if err != nil {
			c.log.Error("make the unknown-user password hash", "err", err)
		}
	})
	return c.dummy
}

// HashPassword checks a new staff password (10 to 72 bytes) and returns its
// bcrypt hash.
func HashPassword(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return "", aftercare.FieldError("password", "must be at least %d characters", MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return "", aftercare.FieldError("password", "must be at most %d bytes", MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

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
	if r.URL.Query().Get("signed_out") != "" {
		v.Notice = "You have signed out."
	}
	c.render(w, r, http.StatusOK, "login", c.view(nil, "Sign in", "", v))
}

// login checks the form's CSRF token, the rate limit, then the password
// against every account with this email (at most one per clinic), and
// starts a session at the matching clinic. When the password matches
// accounts at several clinics, the user picks one.
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
	if !c.limiter.allow(clientIP(r)+"\x00"+email, c.now()) {
		c.log.WarnContext(r.Context(), "console sign-in rate limited")
		v.Error = "Too many sign-in attempts. Wait a minute, then try again."
		w.Header().Set("Retry-After", "60")
		c.render(w, r, http.StatusTooManyRequests, "login", c.view(nil, "Sign in", "", v))
		return
	}
	users, err := c.store.UsersByEmail(r.Context(), email)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	matched := c.checkPassword(users, password)
	if len(matched) == 0 {
		c.auditSignInFailed(r, users)
		c.log.InfoContext(r.Context(), "console sign-in refused")
		v.Error = "That email and password do not match an account."
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
				cl, err := c.store.Clinic(r.Context(), m.ClinicID)
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
	if err := c.startSession(w, r, u); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if err := c.store.RecordAudit(r.Context(), aftercare.AuditEntry{ClinicID: u.ClinicID, Action: aftercare.AuditSignIn,
		Actor: aftercare.Actor{Kind: aftercare.ActorStaff, ID: u.ID, Label: u.Email, IP: clientIP(r)}}); err != nil {
		c.log.ErrorContext(r.Context(), "audit sign-in", "err", err)
	}
	c.log.InfoContext(r.Context(), "console sign-in", "clinic_id", u.ClinicID, "user_id", u.ID)
	http.Redirect(w, r, safeNext(v.Next), http.StatusSeeOther)
}

// checkPassword returns the users whose hash matches password. An empty
// list is checked against dummyHash so it costs the same.
func (c *Console) checkPassword(users []store.User, password string) []store.User {
	if len(users) == 0 {
		_ = bcrypt.CompareHashAndPassword(c.dummyHash(), []byte(password))
		return nil
	}
	var out []store.User
	for _, u := range users {
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) == nil {
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
		ClinicID: u.ClinicID, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(c.ttl)}); err != nil {
		return err
	}
	if _, err := c.store.DeleteExpiredSessions(context.WithoutCancel(r.Context())); err != nil {
		c.log.WarnContext(r.Context(), "delete expired console sessions", "err", err)
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

// clientIP is the address the request came from (behind a reverse proxy,
// the proxy's; the limit is per IP and email, so one user's typos do not
// lock out colleagues).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter rate-limits sign-in attempts per key (client IP and email) with a
// token bucket per key. It holds at most max keys: when full it forgets
// the keys whose buckets have refilled, and if none has, it refuses new
// keys until some do (an attacker spraying addresses cannot grow memory or
// get unlimited tries).
type limiter struct {
	mu    sync.Mutex
	every rate.Limit
	burst int
	max   int
	m     map[string]*rate.Limiter
}

func newLimiter(every rate.Limit, burst, max int) *limiter {
	return &limiter{every: every, burst: burst, max: max, m: make(map[string]*rate.Limiter)}
}

// allow takes one attempt for key at now and reports whether it may go on.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[key]
	if !ok {
		if len(l.m) >= l.max {
			for k, v := range l.m {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.m, k)
				}
			}
			if len(l.m) >= l.max {
				return false
			}
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.m[key] = lim
	}
	return lim.AllowN(now, 1)
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
