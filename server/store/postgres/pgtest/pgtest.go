// Package pgtest gives tests a PostgreSQL database of their own on the
// server PULSEGRID_TEST_PG names (scripts/with-postgres.sh starts one).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Env names the environment variable that gives tests a PostgreSQL
// server to use (scripts/with-postgres.sh sets it for make test).
const Env = "PULSEGRID_TEST_PG"

// URL returns the URL of a new, empty schema on the test server for
// t, dropped when t ends. Without PULSEGRID_TEST_PG the test is skipped
// with a loud message, or fails when CI is set: CI must never pass
// without having run the PostgreSQL tests.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		msg := Env + " is not set: the PostgreSQL tests did NOT run. Run them with `make unit` or `scripts/with-postgres.sh go test ./...`, which start a PostgreSQL server of their own"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set: this is a failure)")
		}
		t.Skip(msg)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("%s=%s: %v", Env, base, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	})
	return withSearchPath(base, schema)
}

// withSearchPath adds search_path=schema to a URL or keyword/value string.
func withSearchPath(base, schema string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return fmt.Sprintf("%s search_path=%s", base, schema)
}
