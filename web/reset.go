package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/notify"
	"github.com/aftercare/aftercare/store"
)

// "Forgot password": the sign-in page links to a form that asks for an
// email. The answer is always the same ("if that address has an account,
// we sent a link"), and so is the work done while the browser waits: the
// lookup, the token and the email happen after the response, in the
// background, for known and unknown addresses alike. Each account with
// that address gets a link that works once, for ResetTTL (30 minutes by
// default); only the token's SHA-256 is stored, and the link is sent
// straight through the email sender, never through the outbox (whose rows
// keep message bodies). Using the link sets a new password and ends every
// session of that user.

// Reset request limits: per email, 3 at once then one per 20 minutes; per
// client IP, 10 at once then one per 6 minutes.
const (
	resetEmailBurst = 3
	resetEmailEvery = 20 * time.Minute
	resetIPBurst    = 10
	resetIPEvery    = 6 * time.Minute
	// resetSends bounds the background sends running at once, resetQueue
	// the requests waiting for one; beyond that requests are dropped (and
	// logged), never queued without bound.
	resetSends = 4
	resetQueue = 256
)

// forgotView is the data of the forgot and reset pages.
type forgotView struct {
	Email  string
	Token  string // the form's CSRF token (double-submit, as on sign-in)
	Reset  string // the reset link's token (reset page)
	Sent   bool
	Done   bool
	Bad    bool // the reset link does not work
	Error  string
	MinLen int
	TTL    string
}

func (c *Console) forgotPage(w http.ResponseWriter, r *http.Request) {
	tok, err := c.loginToken(w, r)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.render(w, r, http.StatusOK, "forgot", c.view(nil, "Forgot password", "", forgotView{Token: tok, TTL: ttlWords(c.resetTTL)}))
}

// forgot answers every well-formed request the same way and hands the
// address to a background send.
func (c *Console) forgot(w http.ResponseWriter, r *http.Request) {
	tok, err := c.loginToken(w, r)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, nil, aftercare.Errorf(aftercare.EINVALID, "the form could not be read"))
		return
	}
	v := forgotView{Token: tok, Email: strings.TrimSpace(r.PostForm.Get("email")), TTL: ttlWords(c.resetTTL)}
	if !tokensEqual(r.PostForm.Get(csrfField), tok) {
		v.Error = "The form had expired. Please try again."
		c.render(w, r, http.StatusForbidden, "forgot", c.view(nil, "Forgot password", "", v))
		return
	}
	email, err := NormalizeEmail(v.Email)
	if err != nil {
		v.Error = "Enter the email address you sign in with."
		c.render(w, r, http.StatusUnprocessableEntity, "forgot", c.view(nil, "Forgot password", "", v))
		return
	}
	now := c.now()
	ip := c.requestIP(r)
	// The buckets live in the database, shared by every replica.
	okIP, err := c.store.Allow(r.Context(), "reset:ip:"+ip, now, resetIPEvery, resetIPBurst)
	okEmail := false
	if err == nil && okIP {
		okEmail, err = c.store.Allow(r.Context(), "reset:email:"+email, now, resetEmailEvery, resetEmailBurst)
	}
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if !okIP || !okEmail {
		c.log.WarnContext(r.Context(), "console: password reset requests rate limited")
		v.Error = "Too many reset requests. Wait a while, then try again; if you keep waiting for the email, ask your clinic's administrator."
		w.Header().Set("Retry-After", "1200")
		c.render(w, r, http.StatusTooManyRequests, "forgot", c.view(nil, "Forgot password", "", v))
		return
	}
	c.sendReset(r.Context(), email, ip)
	v.Sent = true
	c.render(w, r, http.StatusOK, "forgot", c.view(nil, "Forgot password", "", v))
}

// sendReset makes and emails reset links for every active account with
// this address, in the background: resetSends at a time, resetQueue
// waiting at most; beyond that the request is dropped and logged.
func (c *Console) sendReset(ctx context.Context, email, ip string) {
	if c.resetPending.Add(1) > resetQueue {
		c.resetPending.Add(-1)
		c.log.WarnContext(ctx, "console: password reset dropped: too many sends waiting")
		return
	}
	c.resetWG.Add(1)
	go func() {
		defer c.resetWG.Done()
		defer c.resetPending.Add(-1)
		c.resetSlots <- struct{}{}
		defer func() { <-c.resetSlots }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		users, err := c.store.UsersByEmail(ctx, email)
		if err != nil {
			c.log.ErrorContext(ctx, "console: password reset: look up accounts", "err", err)
			return
		}
		for _, u := range users {
			if err := c.mailReset(ctx, u, ip); err != nil {
				c.log.ErrorContext(ctx, "console: password reset email not sent", "clinic_id", u.ClinicID, "user_id", u.ID, "err", err)
				continue
			}
			c.log.InfoContext(ctx, "console: password reset link sent", "clinic_id", u.ClinicID, "user_id", u.ID)
		}
	}()
}

func (c *Console) mailReset(ctx context.Context, u store.User, ip string) error {
	if c.mail == nil {
		return aftercare.Errorf(aftercare.EINTERNAL, "no email sender configured")
	}
	tok, err := randomToken()
	if err != nil {
		return err
	}
	actx := aftercare.WithActor(ctx, aftercare.Actor{Kind: aftercare.ActorStaff, ID: u.ID, Label: "forgot password form (not signed in)", IP: ip})
	if err := c.store.CreatePasswordReset(actx, u, hashToken(tok), c.resetTTL); err != nil {
		return err
	}
	cl, err := c.store.Clinic(ctx, u.ClinicID)
	if err != nil {
		return err
	}
	link := c.baseURL + "/console/reset?token=" + url.QueryEscape(tok)
	body := "Set a new password for the " + cl.Name + " aftercare console: " + link + "\n\n" +
		"The link works once, for " + ttlWords(c.resetTTL) + ". Setting a new password signs you out everywhere.\n\n" +
		"If you did not ask for this, ignore this email: your password has not changed.\n"
	_, err = c.mail.Send(ctx, notify.Message{Channel: aftercare.Email, ClinicID: u.ClinicID, Step: "password_reset",
		To: u.Email, Subject: "Reset your aftercare console password", Body: body, ClinicName: cl.Name})
	return err
}

// WaitResets waits for background reset emails to finish (tests, and a
// clean shutdown).
func (c *Console) WaitResets() { c.resetWG.Wait() }

func (c *Console) resetPage(w http.ResponseWriter, r *http.Request) {
	tok, err := c.loginToken(w, r)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	reset := r.URL.Query().Get("token")
	v := forgotView{Token: tok, Reset: reset, MinLen: MinPasswordLen}
	if len(reset) > 100 || reset == "" {
		v.Bad = true
	} else if _, err := c.store.PasswordResetUser(r.Context(), hashToken(reset)); err != nil {
		if aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
			c.fail(w, r, nil, err)
			return
		}
		v.Bad = true
	}
	status := http.StatusOK
	if v.Bad {
		v.Reset, status = "", http.StatusGone
	}
	c.render(w, r, status, "reset", c.view(nil, "Set a new password", "", v))
}

func (c *Console) reset(w http.ResponseWriter, r *http.Request) {
	tok, err := c.loginToken(w, r)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, nil, aftercare.Errorf(aftercare.EINVALID, "the form could not be read"))
		return
	}
	f := r.PostForm
	v := forgotView{Token: tok, Reset: f.Get("token"), MinLen: MinPasswordLen}
	page := func(status int) { c.render(w, r, status, "reset", c.view(nil, "Set a new password", "", v)) }
	if !tokensEqual(f.Get(csrfField), tok) {
		v.Error = "The form had expired. Please try again."
		page(http.StatusForbidden)
		return
	}
	if v.Reset == "" || len(v.Reset) > 100 {
		v.Bad, v.Reset = true, ""
		page(http.StatusGone)
		return
	}
	pw := f.Get("password")
	if pw != f.Get("confirm") {
		v.Error = "The two passwords differ. Type the same password twice."
		page(http.StatusUnprocessableEntity)
		return
	}
	// Check the link before the slow hash, so a dead link costs no bcrypt.
	u, err := c.store.PasswordResetUser(r.Context(), hashToken(v.Reset))
	if err != nil {
		if aftercare.ErrorCode(err) != aftercare.EUNAUTHORIZED {
			c.fail(w, r, nil, err)
			return
		}
		v.Bad, v.Reset = true, ""
		page(http.StatusGone)
		return
	}
	inputs := []string{u.Email}
	if cl, err := c.store.Clinic(r.Context(), u.ClinicID); err == nil {
		inputs = append(inputs, cl.Name)
	}
	// The password policy (CheckPassword), then bcrypt in a check slot.
	hash, err := c.hashPassword(r.Context(), pw, inputs...)
	if err != nil {
		if aftercare.ErrorCode(err) == aftercare.EINVALID {
			v.Error = "The password " + aftercare.AllErrors(err)[0].Message + "."
			page(http.StatusUnprocessableEntity)
			return
		}
		c.fail(w, r, nil, err)
		return
	}
	ctx := aftercare.WithActor(r.Context(), aftercare.Actor{IP: c.requestIP(r)})
	u, ended, err := c.store.ResetPassword(ctx, hashToken(v.Reset), hash)
	if aftercare.ErrorCode(err) == aftercare.EUNAUTHORIZED {
		v.Bad, v.Reset = true, ""
		page(http.StatusGone)
		return
	}
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.log.InfoContext(r.Context(), "console: password reset", "clinic_id", u.ClinicID, "user_id", u.ID, "sessions_ended", ended)
	c.setCookie(w, c.sessionCookie(), "", -1, http.SameSiteLaxMode)
	v.Done, v.Reset = true, ""
	page(http.StatusOK)
}

// ttlWords says a link's lifetime: "30 minutes", "2 hours".
func ttlWords(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d.Round(time.Minute)/time.Minute), "minute")
}

// configureAdmin applies the reset options.
func (c *Console) configureAdmin(o Options) {
	c.mail, c.baseURL, c.resetTTL = o.Mail, strings.TrimRight(o.BaseURL, "/"), o.ResetTTL
	if c.resetTTL <= 0 {
		c.resetTTL = 30 * time.Minute
	}
	c.resetSlots = make(chan struct{}, resetSends)
}
