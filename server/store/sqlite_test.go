package store

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func mustOpen(tb testing.TB, path string) *SQLite {
	tb.Helper()
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func testRecording() *signal.Recording {
	return &signal.Recording{
		Signal:      signal.Signal{Channels: []signal.Channel{{Name: "MLII", Unit: "mV", Rate: 360, Gain: 200, Samples: []float64{0.5, math.NaN(), -1}}}},
		Identity:    signal.Identity{PatientName: "Jane Doe", Record: "100", FileNames: []string{"100.hea", "100.dat"}},
		Annotations: []signal.Annotation{{Sample: 1, Code: 1}}, AnnotationRate: 360,
	}
}

func TestPragmasAndMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s := mustOpen(t, path)
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "secure_delete": "1", "busy_timeout": "10000"} {
		// Several connections: every pooled one must have the pragmas.
		for range 3 {
			var got string
			if err := s.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("PRAGMA %s: got %s, want %s", pragma, got, want)
			}
		}
	}
	s.Close()
	s2 := mustOpen(t, path) // migrations already applied: a no-op
	var n int
	s2.db.QueryRow("SELECT COUNT(*) FROM schema_migrations").Scan(&n)
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	if n != len(files) {
		t.Errorf("schema_migrations has %d rows, want one per migration file (%d)", n, len(files))
	}
}

func TestDatasetRoundTripAndCascade(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	u, err := s.CreateUser(ctx, User{Email: "a@x.org", Role: RoleClinician, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, User{Email: "A@x.org", Role: RoleClinician, PasswordHash: "h"}); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate email (other case): got %v, want ErrConflict", err)
	}
	ds, err := s.CreateDataset(ctx, Dataset{OwnerID: u.ID, Name: "n"}, testRecording())
	if err != nil {
		t.Fatal(err)
	}
	if ds.Channels[0].Samples != 3 || ds.Duration != 3.0/360 {
		t.Errorf("metadata: %+v", ds)
	}
	sig, err := s.DatasetSignal(ctx, ds.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c := sig.Channels[0]; c.Name != "MLII" || c.Gain != 200 || c.Samples[0] != 0.5 || !math.IsNaN(c.Samples[1]) {
		t.Errorf("signal round trip: %+v", c)
	}
	ident, anns, rate, err := s.DatasetIdentity(ctx, ds.ID)
	if err != nil || ident.PatientName != "Jane Doe" || len(anns) != 1 || rate != 360 {
		t.Errorf("identity round trip: %+v %v %v %v", ident, anns, rate, err)
	}
	a, err := s.CreateAnalysis(ctx, Analysis{DatasetID: ds.ID, OwnerID: u.ID, Algorithm: "x@1", Params: []byte("{}"), Priority: "routine", Status: StatusRunning, ChunksTotal: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyGridWrites(ctx, []GridWrite{{Verify: &ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d", Output: []byte{1}, Replicas: 2}}}); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Analysis(ctx, a.ID); a.ChunksVerified != 1 {
		t.Errorf("chunks_verified: got %d, want 1", a.ChunksVerified)
	}
	s.ApplyGridWrites(ctx, []GridWrite{{Withdraw: &ChunkRef{AnalysisID: a.ID, Index: 0}}})
	if a, _ := s.Analysis(ctx, a.ID); a.ChunksVerified != 0 {
		t.Errorf("chunks_verified after a withdrawal: got %d, want 0", a.ChunksVerified)
	}
	s.ApplyGridWrites(ctx, []GridWrite{{Verify: &ChunkOutput{AnalysisID: a.ID, Index: 1, Digest: "d", Output: []byte{1}, Replicas: 2}}})
	if err := s.FinishAnalysis(ctx, a.ID, []byte(`{"ok":1}`), "ok", false, []string{"d", "d"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("finishing with a chunk output missing: got %v, want ErrConflict", err)
	}
	s.ApplyGridWrites(ctx, []GridWrite{{Verify: &ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "e", Output: []byte{1}, Replicas: 2, Voters: []string{"v-a", "v-b"}}}})
	if err := s.FinishAnalysis(ctx, a.ID, []byte(`{"ok":1}`), "ok", false, []string{"d", "d"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("finishing with other outputs than stored: got %v, want ErrConflict", err)
	}
	if err := s.FinishAnalysis(ctx, a.ID, []byte(`{"ok":1}`), "ok", false, []string{"e", "d"}); err != nil {
		t.Fatal(err)
	}
	if outs, _ := s.ChunkOutputs(ctx, a.ID); len(outs) != 2 || !slices.Equal(outs[0].Voters, []string{"v-a", "v-b"}) {
		t.Errorf("chunk outputs after the merge: %+v, want both kept with their voters", outs)
	}
	// A caught voter reopens the finished analysis.
	ids, co, err := s.ReopenVoted(ctx, "v-a", "revised: x")
	if err != nil || len(ids) != 1 || ids[0] != a.ID || !slices.Equal(co, []string{"v-b"}) {
		t.Fatalf("ReopenVoted: %v %v %v, want analysis %d and co-voter v-b", ids, co, err, a.ID)
	}
	if a, _ := s.Analysis(ctx, a.ID); a.Status != StatusRunning || a.Revision != 1 || a.ChunksVerified != 1 || a.Error != "revised: x" {
		t.Errorf("after a reopen: %+v, want running, revision 1, 1 chunk verified", a)
	}
	if err := s.DeleteDataset(ctx, ds.ID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"datasets", "dataset_signals", "dataset_segments", "dataset_identities", "analyses", "chunk_outputs", "analysis_results"} {
		var n int
		s.db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n)
		if n != 0 {
			t.Errorf("%s: %d rows left after deleting the dataset", table, n)
		}
	}
	// A batched write for an analysis deleted meanwhile is dropped, not an error.
	if err := s.ApplyGridWrites(ctx, []GridWrite{{Verify: &ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d", Output: []byte{1}}}}); err != nil {
		t.Errorf("write for a deleted analysis: %v", err)
	}
	if err := s.DeleteDataset(ctx, ds.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: got %v, want ErrNotFound", err)
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, filepath.Join(dir, "db"))
	u, _ := s.CreateUser(ctx, User{Email: "a@x.org", Role: RoleAdmin, PasswordHash: "h"})
	out := filepath.Join(dir, "backup.db")
	if err := s.Backup(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(ctx, out); err == nil {
		t.Error("backup over an existing file succeeded")
	}
	b := mustOpen(t, out)
	if got, err := b.User(ctx, u.ID); err != nil || got.Email != "a@x.org" {
		t.Errorf("backup: got %+v, %v", got, err)
	}
}

func FuzzDecodeSignal(f *testing.F) {
	f.Add(EncodeSignal(&testRecording().Signal))
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, err := DecodeSignal(b)
		if err != nil {
			return
		}
		if _, err := DecodeSignal(EncodeSignal(sig)); err != nil {
			t.Fatalf("re-encoded signal does not decode: %v", err)
		}
	})
}
