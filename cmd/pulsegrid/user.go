package main

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"os/user"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

func init() {
	commands["user"] = command{
		summary: "add, disable, enable, reset users; issue API tokens",
		run:     cmdUser,
	}
}

const userUsage = "user add|disable|enable|reset|token --data DIR --email E [--role admin|clinician|volunteer] [--password P] [--name TOKEN-NAME]"

func cmdUser(ctx context.Context, e env) error {
	fs := newFlagSet("user", userUsage, e.stderr)
	data := fs.String("data", "./data", "data directory")
	dbURL := addDBFlag(fs)
	email := fs.String("email", "", "the account's email address")
	role := fs.String("role", store.RoleClinician, "role for add: admin, clinician, or volunteer (an enrolled volunteer machine)")
	password := fs.String("password", "", "password for add or reset (default: generate one and print it)")
	name := fs.String("name", "", "a label for the token (token)")
	pos, err := parseInterleaved(fs, e.args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("user needs one action: add, disable, enable, reset or token")
	}
	if *email == "" {
		return fmt.Errorf("user %s: --email is required", pos[0])
	}
	if pos[0] == "add" {
		if err := checkEmail(*email); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, *data, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	act := pos[0]
	// Every action is audited, refusals included, with the operating-system
	// user as the actor: the CLI works on the database directly, so it
	// has no account of its own.
	actor := cliActor(e)
	record := func(object, detail string, err error) error {
		entry := store.AuditEntry{Actor: actor, Action: "user." + act, Object: object, Detail: detail, Address: "local"}
		if err != nil {
			entry.Outcome, entry.Detail = store.OutcomeRefused, err.Error()
		}
		if aerr := st.Audit(ctx, entry); aerr != nil && err == nil {
			return fmt.Errorf("audit log: %w", aerr)
		}
		return err
	}
	newPassword := func() (pw string, expires time.Time, err error) {
		if *password != "" {
			return *password, time.Time{}, auth.CheckNewPassword(*password, *email)
		}
		pw, err = auth.NewPassword()
		return pw, time.Now().Add(auth.OneTimeLifetime).UTC(), err
	}
	switch act {
	case "add":
		if err := validRole(*role); err != nil {
			return record("user/?", "", err)
		}
		pw, expires, err := newPassword()
		if err != nil {
			return record("user/?", "", fmt.Errorf("--password: %w", err))
		}
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return err
		}
		u, err := st.CreateUser(ctx, store.User{Email: *email, Role: *role, PasswordHash: hash, MustChange: !expires.IsZero(), PasswordExpires: expires})
		if errors.Is(err, store.ErrConflict) {
			return record("user/?", "", fmt.Errorf("a user %s already exists (use reset to change the password)", *email))
		}
		if err != nil {
			return err
		}
		if err := record(fmt.Sprintf("user/%d", u.ID), u.Email+" as "+u.Role, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added %s (%s), id %d\n", u.Email, u.Role, u.ID)
		if !expires.IsZero() {
			fmt.Fprintf(e.stdout, "one-time password: %s  (valid until %s; it must be changed at first login)\n", pw, expires.Format("2006-01-02 15:04 MST"))
		}
		return nil
	}
	u, err := st.UserByEmail(ctx, *email)
	if errors.Is(err, store.ErrNotFound) {
		return record("user/?", "", fmt.Errorf("no user %s (add it with: pulsegrid user add --email %s)", *email, *email))
	}
	if err != nil {
		return err
	}
	object := fmt.Sprintf("user/%d", u.ID)
	switch act {
	case "disable", "enable":
		// The portal's path too: every session and API token ends, so an
		// enable after a disable brings none back.
		u.Disabled = act == "disable"
		if _, err := st.UpdateCredentials(ctx, u); err != nil {
			return err
		}
		if err := record(object, u.Email+": sessions and API tokens ended", nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%sd %s and ended its sessions and API tokens\n", act, u.Email)
	case "reset":
		pw, expires, err := newPassword()
		if err != nil {
			return record(object, "", fmt.Errorf("--password: %w", err))
		}
		if u.PasswordHash, err = auth.HashPassword(pw); err != nil {
			return err
		}
		u.MustChange, u.PasswordExpires = !expires.IsZero(), expires
		if _, err := st.UpdateCredentials(ctx, u); err != nil {
			return err
		}
		if err := record(object, u.Email+": sessions and API tokens ended", nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %s reset; its sessions and API tokens ended\n", u.Email)
		if !expires.IsZero() {
			fmt.Fprintf(e.stdout, "one-time password: %s  (valid until %s; it must be changed at first login)\n", pw, expires.Format("2006-01-02 15:04 MST"))
		}
	case "token":
		if u.Disabled {
			return record(object, "", fmt.Errorf("%s is disabled; enable it first", u.Email))
		}
		tok, hash, err := auth.NewToken()
		if err != nil {
			return err
		}
		if err := st.CreateToken(ctx, u.ID, hash, *name); err != nil {
			return err
		}
		if err := record(object, "token "+*name, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "new API token for %s (shown once; send it as \"Authorization: Bearer TOKEN\"):\n%s\n", u.Email, tok)
	default:
		fs.Usage()
		return fmt.Errorf("unknown action %q: want add, disable, enable, reset or token", act)
	}
	return nil
}

// checkEmail accepts a bare address (name@domain, as the login form takes
// it): no display name, no angle brackets, a domain after the @.
func checkEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.HasPrefix(s, "@") || strings.HasSuffix(s, "@") {
		return fmt.Errorf("--email %q is not an email address: want name@domain, e.g. dr.lee@hospital.org", s)
	}
	return nil
}

// cliActor names the operating-system user running the command, for the
// audit log: "cli:NAME".
func cliActor(e env) string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = e.getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}
