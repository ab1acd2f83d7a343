package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/store"
)

// AccountStore is what sign-in, sessions and user management need from
// the store beyond Store's basics.
type AccountStore interface {
	TouchSession(ctx context.Context, tokenHash string, idleUntil time.Time) error
	DeleteUserSessions(ctx context.Context, userID int64) (int, error)

	LoginBlockedUntil(ctx context.Context, now time.Time, accountKey, ipKey string) (time.Time, error)
	LoginFailure(ctx context.Context, key string, now time.Time, resetAfter time.Duration, block func(n int) time.Duration) (int, time.Time, error)
	ClearLoginFailures(ctx context.Context, key string) error
	PruneLoginThrottles(ctx context.Context, now, olderThan time.Time) (int, error)
	Allow(ctx context.Context, key string, now time.Time, every time.Duration, burst int) (bool, error)
	PruneRateLimits(ctx context.Context, now time.Time) (int, error)

	Users(ctx context.Context, clinicID int64) ([]store.User, error)
	User(ctx context.Context, clinicID, id int64) (store.User, error)
	CreateUserWithRole(ctx context.Context, clinicID int64, email, passwordHash string, role store.Role) (store.User, error)
	DisableUser(ctx context.Context, clinicID, userID int64) (store.User, error)
	SetPassword(ctx context.Context, clinicID, userID int64, passwordHash string) error
}

// configureSignIn applies the sign-in options: session lifetimes, the
// throttle, the password check gate and the unknown-email dummy hash
// (made here, once, so the first unknown email costs no more than later
// ones).
func (c *Console) configureSignIn(o Options) error {
	c.idle = o.SessionIdle
	if c.idle <= 0 {
		c.idle = 30 * time.Minute
	}
	c.idle = min(c.idle, c.ttl)
	c.limits = o.Limits.withDefaults()
	c.proxyHeader = strings.TrimSpace(o.TrustedProxyHeader)
	slots := o.PasswordChecks
	if slots <= 0 {
		slots = max(1, runtime.GOMAXPROCS(0)-1)
	}
	wait := o.PasswordWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	c.checks = newGate(slots, 4*slots, wait)
	c.compare = o.PasswordCheck
	if c.compare == nil {
		c.compare = bcrypt.CompareHashAndPassword
	}
	c.cost = o.BcryptCost
	if c.cost < bcrypt.MinCost || c.cost > bcrypt.MaxCost {
		c.cost = bcrypt.DefaultCost
	}
	pw, err := randomToken()
	if err != nil {
		return err
	}
	if c.dummy, err = bcrypt.GenerateFromPassword([]byte(pw[:40]), c.cost); err != nil {
		return fmt.Errorf("web console: make the unknown-user password hash: %w", err)
	}
	return nil
}

func (c *Console) registerAccounts(h func(string, http.HandlerFunc)) {
	h("POST /console/logout/everywhere", c.post(c.logoutEverywhere))
	h("GET /console/account", c.get(c.accountPage))
	h("POST /console/account/password", c.post(c.changePassword))
	h("GET /console/users", c.get(c.admin(c.usersPage)))
	h("POST /console/users", c.post(c.admin(c.addUser)))
	h("POST /console/users/{id}/disable", c.post(c.admin(c.disableUser)))
	h("POST /console/users/{id}/password", c.post(c.admin(c.resetPassword)))
}

// parseAccountPages parses the account and users pages on the layout
// (cloned from the sign-in page, whose content they replace).
func (c *Console) parseAccountPages() error {
	for _, p := range []string{"account", "users"} {
		t, err := c.pages["login"].Clone()
		if err != nil {
			return fmt.Errorf("web console: parse templates: %w", err)
		}
		if _, err := t.ParseFS(templateFS, "templates/"+p+".html"); err != nil {
			return fmt.Errorf("web console: parse template %s: %w", p, err)
		}
		c.pages[p] = t
	}
	return nil
}

// admin lets only the clinic's admins through; staff get 403.
func (c *Console) admin(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, s *store.Session) error {
		if s.Role != store.RoleAdmin {
			return aftercare.Errorf(aftercare.EFORBIDDEN, "only the clinic's admins can manage users")
		}
		return h(w, r, s)
	}
}

// hashPassword applies the password policy and hashes, holding a password
// check slot (bcrypt is as slow to hash as to check).
func (c *Console) hashPassword(ctx context.Context, password string, inputs ...string) (string, error) {
	if err := CheckPassword(password, inputs...); err != nil {
		return "", err
	}
	release, ok := c.checks.enter(ctx)
	if !ok {
		return "", aftercare.Errorf(aftercare.ECONFLICT, "the server is busy; try again in a few seconds")
	}
	defer release()
	h, err := bcrypt.GenerateFromPassword([]byte(password), c.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// accountView is the data of the account page.
type accountView struct {
	Email   string
	Role    store.Role
	Admin   bool
	Done    string
	Error   string
	MinLen  int
	Expires time.Time
	Zone    string
	// Idle is the idle timeout in words ("30 minutes").
	Idle string
}

func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	return c.renderAccount(w, r, s, http.StatusOK, "")
}

func (c *Console) renderAccount(w http.ResponseWriter, r *http.Request, s *store.Session, status int, errMsg string) error {
	v := accountView{Email: s.Email, Role: s.Role, Admin: s.Role == store.RoleAdmin, Error: errMsg,
		MinLen: MinPasswordLen, Expires: s.ExpiresAt, Zone: s.Clinic.Timezone, Idle: durationWords(c.idle)}
	if r.URL.Query().Get("done") == "password" {
		v.Done = "Your password is changed. Every other session of yours has ended."
	}
	c.render(w, r, status, "account", c.view(s, "Your account", "", v))
	return nil
}

// changePassword changes the signed-in user's own password: the current
// one is checked first (a borrowed unlocked browser cannot take the
// account), the new one must pass the policy. Every session of the user
// ends; this browser gets a fresh one.
func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	f := r.PostForm
	current, next, again := f.Get("current_password"), f.Get("new_password"), f.Get("new_password_again")
	if next != again {
		return c.renderAccount(w, r, s, http.StatusUnprocessableEntity, "The two new passwords differ.")
	}
	u, err := c.store.User(r.Context(), s.ClinicID, s.UserID)
	if err != nil {
		return err
	}
	release, ok := c.checks.enter(r.Context())
	if !ok {
		return aftercare.Errorf(aftercare.ECONFLICT, "the server is busy; try again in a few seconds")
	}
	bad := len(current) > 200 || c.compare([]byte(u.PasswordHash), []byte(current)) != nil
	release()
	if bad {
		return c.renderAccount(w, r, s, http.StatusUnprocessableEntity, "Your current password is not right.")
	}
	hash, err := c.hashPassword(r.Context(), next, u.Email, s.Clinic.Name)
	if err != nil {
		if aftercare.ErrorCode(err) == aftercare.EINVALID {
			return c.renderAccount(w, r, s, http.StatusUnprocessableEntity, "New "+strings.ToLower(fieldMessage(err)[:1])+fieldMessage(err)[1:])
		}
		return err
	}
	if err := c.store.SetPassword(r.Context(), s.ClinicID, s.UserID, hash); err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "console password changed", "clinic_id", s.ClinicID, "user_id", s.UserID)
	if err := c.startSession(w, r, u); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/account?done=password", http.StatusSeeOther)
	return nil
}

// usersView is the data of the users page.
type usersView struct {
	Users  []store.User
	Self   int64
	Zone   string
	Done   string
	Error  string
	Email  string
	Role   store.Role
	MinLen int
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	done := ""
	switch r.URL.Query().Get("done") {
	case "added":
		done = "The user is added. Give them their password in person or by phone, never by email."
	case "disabled":
		done = "The user is disabled and signed out everywhere."
	case "password":
		done = "The password is reset and the user is signed out everywhere."
	}
	return c.renderUsers(w, r, s, http.StatusOK, usersView{Done: done, Role: store.RoleStaff})
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, s *store.Session, status int, v usersView) error {
	us, err := c.store.Users(r.Context(), s.ClinicID)
	if err != nil {
		return err
	}
	v.Users, v.Self, v.Zone, v.MinLen = us, s.UserID, s.Clinic.Timezone, MinPasswordLen
	c.render(w, r, status, "users", c.view(s, "Users", "", v))
	return nil
}

// addUser adds a user to the admin's clinic with the password the admin
// chose (the policy applies).
func (c *Console) addUser(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	f := r.PostForm
	v := usersView{Email: strings.TrimSpace(f.Get("email")), Role: store.Role(f.Get("role"))}
	email, err := NormalizeEmail(v.Email)
	if err == nil && !v.Role.Valid() {
		err = aftercare.FieldError("role", "must be admin or staff")
	}
	var hash string
	if err == nil {
		hash, err = c.hashPassword(r.Context(), f.Get("password"), email, s.Clinic.Name)
	}
	var u store.User
	if err == nil {
		u, err = c.store.CreateUserWithRole(r.Context(), s.ClinicID, email, hash, v.Role)
	}
	if err != nil {
		if code := aftercare.ErrorCode(err); code == aftercare.EINVALID || code == aftercare.ECONFLICT {
			v.Error = fieldMessage(err)
			return c.renderUsers(w, r, s, http.StatusUnprocessableEntity, v)
		}
		return err
	}
	c.log.InfoContext(r.Context(), "console user added", "clinic_id", s.ClinicID, "user_id", u.ID, "role", string(u.Role), "by_user_id", s.UserID)
	http.Redirect(w, r, "/console/users?done=added", http.StatusSeeOther)
	return nil
}

func (c *Console) disableUser(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := c.store.DisableUser(r.Context(), s.ClinicID, id); err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "console user disabled", "clinic_id", s.ClinicID, "user_id", id, "by_user_id", s.UserID)
	if id == s.UserID {
		c.setCookie(w, c.sessionCookie(), "", -1, http.SameSiteLaxMode)
		http.Redirect(w, r, "/console/login?signed_out=1", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/console/users?done=disabled", http.StatusSeeOther)
	return nil
}

// resetPassword sets a user's password to one the admin chose (the
// policy applies) and signs the user out everywhere.
func (c *Console) resetPassword(w http.ResponseWriter, r *http.Request, s *store.Session) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	u, err := c.store.User(r.Context(), s.ClinicID, id)
	if err != nil {
		return err
	}
	hash, err := c.hashPassword(r.Context(), r.PostForm.Get("password"), u.Email, s.Clinic.Name)
	if err != nil {
		if aftercare.ErrorCode(err) == aftercare.EINVALID {
			return c.renderUsers(w, r, s, http.StatusUnprocessableEntity, usersView{Role: store.RoleStaff,
				Error: u.Email + ": " + fieldMessage(err)})
		}
		return err
	}
	if err := c.store.SetPassword(r.Context(), s.ClinicID, id, hash); err != nil {
		return err
	}
	c.log.InfoContext(r.Context(), "console password reset", "clinic_id", s.ClinicID, "user_id", id, "by_user_id", s.UserID)
	if id == s.UserID {
		if err := c.startSession(w, r, u); err != nil {
			return err
		}
	}
	http.Redirect(w, r, "/console/users?done=password", http.StatusSeeOther)
	return nil
}

// durationWords says a duration the way staff read it: "30 minutes",
// "2 hours".
func durationWords(d time.Duration) string {
	if d%time.Hour == 0 {
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int((d+time.Minute-1)/time.Minute), "minute")
}

// fieldMessage is a field error as a sentence: "Password is too easy...".
func fieldMessage(err error) string {
	var e *aftercare.Error
	if errors.As(err, &e) && e.Field != "" {
		f := strings.ToUpper(e.Field[:1]) + e.Field[1:]
		return f + " " + e.Message + "."
	}
	return aftercare.ErrorMessage(err)
}
