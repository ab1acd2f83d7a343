package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/aftercare/aftercare"
	"github.com/aftercare/aftercare/config"
	"github.com/aftercare/aftercare/store"
	"github.com/aftercare/aftercare/web"
)

// mountConsole serves the clinic web console (/console/) on the API's mux.
// Its cookies are Secure when the public URL is https.
func (a *App) mountConsole(ctx context.Context) error {
	var steps []web.Step
	for _, s := range a.Protocol.Steps() {
		steps = append(steps, web.Step{Key: s.Key, Title: s.Title})
	}
	c, err := web.New(web.Options{
		Store: a.Store, Enroller: countingEnroller{a.Enroll, a, "console"}, Clock: a.clock, Log: a.log, Steps: steps, Treatments: a.protocols.Treatments,
		SecureCookies:      strings.HasPrefix(strings.ToLower(a.Config.PublicURL), "https://"),
		SessionTTL:         a.Config.Web.SessionLifetime,
		SessionIdle:        a.Config.Web.SessionIdle,
		TrustedProxyHeader: a.Config.Web.TrustedProxyHeader,
		Mail:               a.Senders[aftercare.Email],
		BaseURL:            strings.TrimSuffix(ConsoleURL(a.Config), "/console/login"),
		ResetTTL:           a.Config.Web.PasswordResetTTL,
		Protocols:          protocolPage{ps: a.protocols, quiet: a.quiet, price: a.Config.SMSSegmentPrice},
		Links:              a.Store,
	})
	if err != nil {
		return err
	}
	c.Register(a.API)
	return nil
}

// ConsoleURL is where the web console's sign-in page is: under the public
// URL when one is set, else on the listen address.
func ConsoleURL(cfg *config.Config) string {
	base := strings.TrimRight(cfg.PublicURL, "/")
	if base == "" {
		base = "http://" + cfg.Listen
	}
	return base + "/console/login"
}

// UserOptions describe a staff user to add to a clinic, or whose password
// to reset.
type UserOptions struct {
	ClinicID int64
	Email    string
	// Role is admin or staff; empty means admin for a clinic's first user
	// (someone must manage the others), staff after that.
	Role string
	// PasswordFile holds the password (one trailing newline is ignored).
	// Without it the password is read from Stdin: prompted for twice
	// without echo on a terminal, else the first line.
	PasswordFile string
	Stdin        io.Reader
	// Prompt receives the password prompts (stderr, so stdout stays clean).
	Prompt io.Writer
}

// AddUser creates a clinic staff account for the web console. The password
// never comes from a command-line flag (flags show up in ps and shell
// history); it must pass the password policy (web.CheckPassword) and is
// stored only as a bcrypt hash.
func AddUser(ctx context.Context, cfg *config.Config, o UserOptions) (store.User, aftercare.Clinic, error) {
	email, err := web.NormalizeEmail(o.Email)
	if err != nil {
		return store.User{}, aftercare.Clinic{}, err
	}
	if o.ClinicID <= 0 {
		return store.User{}, aftercare.Clinic{}, aftercare.FieldError("clinic", "must be a clinic id (see `aftercare clinic add`)")
	}
	role := store.Role(o.Role)
	if role != "" && !role.Valid() {
		return store.User{}, aftercare.Clinic{}, aftercare.FieldError("role", "must be admin or staff, got %q", o.Role)
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return store.User{}, aftercare.Clinic{}, err
	}
	defer s.Close()
	clinic, err := s.Clinic(ctx, o.ClinicID)
	if err != nil {
		return store.User{}, aftercare.Clinic{}, err
	}
	if role == "" {
		us, err := s.Users(ctx, clinic.ID)
		if err != nil {
			return store.User{}, clinic, err
		}
		role = store.RoleAdmin
		for _, u := range us {
			if u.Role == store.RoleAdmin && u.DisabledAt.IsZero() {
				role = store.RoleStaff
			}
		}
	}
	password, err := readPassword(o)
	if err != nil {
		return store.User{}, clinic, err
	}
	hash, err := web.HashPassword(password, email, clinic.Name)
	if err != nil {
		return store.User{}, clinic, err
	}
	u, err := s.CreateUserWithRole(ctx, clinic.ID, email, hash, role)
	return u, clinic, err
}

// ListUsers returns a clinic's users, active first.
func ListUsers(ctx context.Context, cfg *config.Config, clinicID int64) ([]store.User, aftercare.Clinic, error) {
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return nil, aftercare.Clinic{}, err
	}
	defer s.Close()
	clinic, err := s.Clinic(ctx, clinicID)
	if err != nil {
		return nil, clinic, err
	}
	us, err := s.Users(ctx, clinicID)
	return us, clinic, err
}

// DisableUser disables a clinic's user by email; their sessions end at
// once. The clinic's last admin cannot be disabled.
func DisableUser(ctx context.Context, cfg *config.Config, clinicID int64, email string) (store.User, error) {
	email, err := web.NormalizeEmail(email)
	if err != nil {
		return store.User{}, err
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return store.User{}, err
	}
	defer s.Close()
	u, err := s.UserByEmail(ctx, clinicID, email)
	if err != nil {
		return u, err
	}
	return s.DisableUser(ctx, clinicID, u.ID)
}

// ResetPassword sets a clinic's user's password (read like AddUser's, and
// held to the same policy) and ends all their sessions.
func ResetPassword(ctx context.Context, cfg *config.Config, o UserOptions) (store.User, error) {
	email, err := web.NormalizeEmail(o.Email)
	if err != nil {
		return store.User{}, err
	}
	s, err := store.Open(ctx, cfg.DB, store.Options{})
	if err != nil {
		return store.User{}, err
	}
	defer s.Close()
	clinic, err := s.Clinic(ctx, o.ClinicID)
	if err != nil {
		return store.User{}, err
	}
	u, err := s.UserByEmail(ctx, clinic.ID, email)
	if err != nil {
		return u, err
	}
	password, err := readPassword(o)
	if err != nil {
		return u, err
	}
	hash, err := web.HashPassword(password, email, clinic.Name)
	if err != nil {
		return u, err
	}
	return u, s.SetPassword(ctx, clinic.ID, u.ID, hash)
}

func readPassword(o UserOptions) (string, error) {
	if o.PasswordFile != "" {
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if strings.ContainsAny(pw, "\r\n") {
			return "", aftercare.FieldError("password-file", "must hold the password on one line")
		}
		return pw, nil
	}
	if o.Stdin == nil {
		return "", errors.New("no password: give --password-file or type it on standard input")
	}
	prompt := o.Prompt
	if prompt == nil {
		prompt = io.Discard
	}
	if f, ok := o.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(prompt, "Password (at least %d characters): ", web.MinPasswordLen)
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(prompt, "Password again: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(first) != string(second) {
			return "", aftercare.FieldError("password", "the two passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(io.LimitReader(o.Stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}
