package main

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

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
	st, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	newPassword := func() (pw string, generated bool, err error) {
		if *password != "" {
			return *password, false, auth.CheckPasswordStrength(*password)
		}
		pw, err = auth.NewPassword()
		return pw, true, err
	}
	switch pos[0] {
	case "add":
		if err := validRole(*role); err != nil {
			return err
		}
		pw, gen, err := newPassword()
		if err != nil {
			return err
		}
		hash, err := auth.HashPassword(pw)
		if err != nil {
			return err
		}
		u, err := st.CreateUser(ctx, store.User{Email: *email, Role: *role, PasswordHash: hash, MustChange: gen})
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("a user %s already exists (use reset to change the password)", *email)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added %s (%s), id %d\n", u.Email, u.Role, u.ID)
		if gen {
			fmt.Fprintf(e.stdout, "one-time password: %s\n", pw)
		}
		return nil
	}
	u, err := st.UserByEmail(ctx, *email)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %s (add it with: pulsegrid user add --email %s)", *email, *email)
	}
	if err != nil {
		return err
	}
	switch pos[0] {
	case "disable", "enable":
		u.Disabled = pos[0] == "disable"
		if err := st.UpdateUser(ctx, u); err != nil {
			return err
		}
		if u.Disabled {
			if err := st.DeleteTokens(ctx, u.ID); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "disabled %s and revoked its API tokens\n", u.Email)
		} else {
			fmt.Fprintf(e.stdout, "enabled %s\n", u.Email)
		}
	case "reset":
		pw, gen, err := newPassword()
		if err != nil {
			return err
		}
		if u.PasswordHash, err = auth.HashPassword(pw); err != nil {
			return err
		}
		u.MustChange = gen
		if err := st.UpdateUser(ctx, u); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "password of %s reset\n", u.Email)
		if gen {
			fmt.Fprintf(e.stdout, "one-time password: %s\n", pw)
		}
	case "token":
		if u.Disabled {
			return fmt.Errorf("%s is disabled; enable it first", u.Email)
		}
		tok, hash, err := auth.NewToken()
		if err != nil {
			return err
		}
		if err := st.CreateToken(ctx, u.ID, hash, *name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "new API token for %s (shown once; send it as \"Authorization: Bearer TOKEN\"):\n%s\n", u.Email, tok)
	default:
		fs.Usage()
		return fmt.Errorf("unknown action %q: want add, disable, enable, reset or token", pos[0])
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
