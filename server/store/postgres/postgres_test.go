package postgres_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/server/store/postgres"
	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
	"github.com/pulsegrid/pulsegrid/server/store/storetest"
)

func open(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPostgresConformance runs the store conformance suite on PostgreSQL,
// each test in a schema of its own.
func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() store.Store {
		url := pgtest.URL(t)
		return func() store.Store { return open(t, url) }
	})
}

// TestMigrationsAreApplied: a second start applies nothing twice, and the
// schema holds every table the store writes.
func TestMigrationsAreApplied(t *testing.T) {
	url := pgtest.URL(t)
	s := open(t, url)
	s.Close()
	s = open(t, url)
	defer s.Close()
	files, _ := filepath.Glob("migrations/*.sql")
	var n int
	if err := s.Pool().QueryRow(context.Background(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) || n == 0 {
		t.Errorf("schema_migrations: %d rows, %v; want one per file of migrations/ (%d)", n, err, len(files))
	}
}

// TestAnotherServersUploadSurvivesAStart: a server starting on the same
// database removes the incomplete datasets of dead writers only, never the
// upload another live server is writing.
func TestAnotherServersUploadSurvivesAStart(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a := open(t, url)
	defer a.Close()
	u, err := a.CreateUser(ctx, store.User{Email: "a@x.org", Role: store.RoleClinician, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := a.BeginDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "live"}, storetestChannels())
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, url) // a second replica starts while a writes
	defer b.Close()
	if err := w.Write([][]float64{{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(storetestIdentity(), nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishDatasets(ctx, []int64{w.ID()}); err != nil {
		t.Fatalf("the upload of a live server was removed by another's start: %v", err)
	}
	if _, err := b.Dataset(ctx, w.ID()); err != nil {
		t.Errorf("the other replica does not see the published dataset: %v", err)
	}
}

func TestBackupSaysToUsePgDump(t *testing.T) {
	s := open(t, pgtest.URL(t))
	defer s.Close()
	if err := s.Backup(context.Background(), t.TempDir()+"/x"); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("Backup: %v, want an error naming pg_dump", err)
	}
}

func TestOpenNamesTheServer(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open of a server that is not there: %v, want its address and never its password", err)
	}
}
