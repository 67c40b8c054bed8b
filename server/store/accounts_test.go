package store

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// derivedRows counts, in every table with a dataset_id or analysis_id
// column, the rows that point at the dataset or one of the analyses. It
// reads the schema, so a table added later is checked too.
func derivedRows(t *testing.T, s *SQLite, datasetID int64, analysisIDs []int64) map[string]int {
	t.Helper()
	rows, err := s.db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]int{}
	for _, table := range tables {
		cols, err := s.db.Query(`SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for cols.Next() {
			var n string
			cols.Scan(&n)
			names = append(names, n)
		}
		cols.Close()
		for _, c := range names {
			var n int
			switch {
			case c == "dataset_id" || (table == "datasets" && c == "id"):
				s.db.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE `+c+` = ?`, datasetID).Scan(&n)
			case c == "analysis_id" || (table == "analyses" && c == "id"):
				for _, a := range analysisIDs {
					var k int
					s.db.QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE `+c+` = ?`, a).Scan(&k)
					n += k
				}
			default:
				continue
			}
			out[table+"."+c] += n
		}
	}
	return out
}

// TestDeleteLeavesNoResidue deletes a dataset with everything derived from
// it and then greps the raw database, WAL and shared-memory files for its
// identity, a run of its stored samples and its result.
func TestDeleteLeavesNoResidue(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pulsegrid.db")
	s := mustOpen(t, path)
	u, err := s.CreateUser(ctx, User{Email: "a@x.org", Role: RoleClinician, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := s.CreateDataset(ctx, Dataset{OwnerID: u.ID, Name: "kept"}, testRecording())
	if err != nil {
		t.Fatal(err)
	}
	const identity = "ZEBRA-QUOKKA-MRN-7731"
	const resultText = "RESULT-MARKER-PLATYPUS-0042"
	rng := rand.New(rand.NewPCG(1, 2))
	samples := make([]float64, 5000)
	for i := range samples {
		samples[i] = float64(rng.IntN(4000)-2000) / 200
	}
	rec := &signal.Recording{
		Signal:   signal.Signal{Channels: []signal.Channel{{Name: "MLII", Unit: "mV", Rate: 360, Gain: 200, Samples: samples}}},
		Identity: signal.Identity{PatientName: identity, PatientID: identity, Record: "rec-" + identity},
	}
	ds, err := s.CreateDataset(ctx, Dataset{OwnerID: u.ID, Name: "Recording " + identity}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetDatasetMeta(ctx, ds.ID, DatasetMeta{Format: "wfdb", Template: "tpl-" + identity}); err != nil {
		t.Fatal(err)
	}
	var blob []byte
	if err := s.db.QueryRow(`SELECT samples FROM dataset_segments WHERE dataset_id = ? ORDER BY seg LIMIT 1`, ds.ID).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	if len(blob) < 200 {
		t.Fatalf("segment blob has %d bytes; want a longer run to look for", len(blob))
	}
	run := bytes.Clone(blob[100:164])
	var analyses []int64
	for i := range 2 {
		a, err := s.CreateAnalysis(ctx, Analysis{DatasetID: ds.ID, OwnerID: u.ID, Algorithm: "ecg.beats@1", Params: json.RawMessage(`{}`), Priority: "routine"})
		if err != nil {
			t.Fatal(err)
		}
		analyses = append(analyses, a.ID)
		if i == 0 {
			if err := s.FinishAnalysis(ctx, a.ID, []byte(`{"note":"`+resultText+`"}`), resultText, false, nil); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := s.ApplyGridWrites(ctx, []GridWrite{{Verify: &ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d", Output: []byte("chunk-" + resultText), Replicas: 2}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.SetBatch(ctx, analyses[0], analyses); err != nil {
		t.Fatal(err)
	}
	before := derivedRows(t, s, ds.ID, analyses)
	for _, table := range []string{"datasets.id", "dataset_segments.dataset_id", "dataset_identities.dataset_id", "dataset_meta.dataset_id", "analyses.id", "analysis_results.analysis_id", "chunk_outputs.analysis_id", "analysis_batches.analysis_id"} {
		if before[table] == 0 {
			t.Fatalf("the test set-up wrote no row in %s", table)
		}
	}

	if err := s.DeleteDataset(ctx, ds.ID); err != nil {
		t.Fatal(err)
	}
	for table, n := range derivedRows(t, s, ds.ID, analyses) {
		if n != 0 {
			t.Errorf("%s: %d rows of the deleted dataset remain", table, n)
		}
	}
	if _, err := s.Dataset(ctx, keep.ID); err != nil {
		t.Errorf("the other dataset went too: %v", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for what, needle := range map[string][]byte{"identity": []byte(identity), "sample run": run, "result": []byte(resultText)} {
			if i := bytes.Index(b, needle); i >= 0 {
				t.Errorf("%s of the deleted dataset is still in %s at byte %d", what, filepath.Base(path+suffix), i)
			}
		}
	}
}

func TestFileModes(t *testing.T) {
	old := syscall.Umask(0) // the most permissive umask an operator could have
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pulsegrid.db")
	check := func(when string) {
		t.Helper()
		want := map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600}
		for p, mode := range want {
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s: %v", when, err)
				continue
			}
			if got := fi.Mode().Perm(); got != mode {
				t.Errorf("%s: %s has mode %o, want %o", when, filepath.Base(p), got, mode)
			}
		}
	}
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, User{Email: "a@x.org", Role: RoleClinician, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	check("after the first start")
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup: %v, mode %o, want 0600", err, fi.Mode().Perm())
	}
	s.Close()
	// Files an older version left readable are tightened at start.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Chmod(p, 0o644)
	}
	os.Chmod(dir, 0o755)
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateUser(ctx, User{Email: "b@x.org", Role: RoleClinician, PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	check("after a restart")
}

func TestUpdateCredentialsEndsTokensAndSessions(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	u, err := s.CreateUser(ctx, User{Email: "a@x.org", Role: RoleClinician, PasswordHash: "h", MustChange: true, PasswordExpires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := s.CreateUser(ctx, User{Email: "b@x.org", Role: RoleClinician, PasswordHash: "h"})
	s.CreateToken(ctx, u.ID, "t1", "")
	s.CreateToken(ctx, u.ID, "t2", "")
	s.CreateToken(ctx, other.ID, "t3", "")
	got, _ := s.User(ctx, u.ID)
	if got.PasswordExpires.IsZero() || !got.MustChange {
		t.Fatalf("one-time password's expiry not stored: %+v", got)
	}
	u.Disabled = true
	u2, err := s.UpdateCredentials(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if u2.SessionEpoch != u.SessionEpoch+1 {
		t.Errorf("session epoch %d, want %d", u2.SessionEpoch, u.SessionEpoch+1)
	}
	if got, _ := s.User(ctx, u.ID); got.SessionEpoch != u2.SessionEpoch || !got.Disabled {
		t.Errorf("stored user %+v", got)
	}
	for _, h := range []string{"t1", "t2"} {
		if _, err := s.UserByToken(ctx, h); err == nil {
			t.Errorf("token %s survived", h)
		}
	}
	if ts, _ := s.Tokens(ctx, u.ID); len(ts) != 0 {
		t.Errorf("%d tokens left", len(ts))
	}
	if _, err := s.UserByToken(ctx, "t3"); err != nil {
		t.Errorf("another user's token went too: %v", err)
	}
}

func TestAuditFind(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, filepath.Join(t.TempDir(), "db"))
	u, _ := s.CreateUser(ctx, User{Email: "alice@x.org", Role: RoleAdmin, PasswordHash: "h"})
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	entries := []AuditEntry{
		{At: day, UserID: u.ID, Action: "login", Object: "user/1", Address: "10.0.0.1"},
		{At: day.Add(time.Hour), Actor: "mallory@x.org", Action: "login.failed", Object: "user/?", Outcome: OutcomeFailed, Address: "10.0.0.9"},
		{At: day.Add(24 * time.Hour), Actor: "cli:root", Action: "user.disable", Object: "user/1", Address: "local"},
		{At: day.Add(48 * time.Hour), UserID: u.ID, Action: "dataset.view", Object: "dataset/3"},
	}
	for _, e := range entries {
		if err := s.Audit(WithAuditAddress(ctx, "127.0.0.7"), e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		f    AuditFilter
		want []string // actions, newest first
	}{
		{"All", AuditFilter{}, []string{"dataset.view", "user.disable", "login.failed", "login"}},
		{"ActorEmail", AuditFilter{Actor: "alice"}, []string{"dataset.view", "login"}},
		{"ActorCLI", AuditFilter{Actor: "cli:"}, []string{"user.disable"}},
		{"ActionExact", AuditFilter{Action: "login"}, []string{"login"}},
		{"ActionPrefix", AuditFilter{Action: "login."}, []string{"login.failed"}},
		{"DateRange", AuditFilter{From: day.Add(time.Minute), To: day.Add(25 * time.Hour)}, []string{"user.disable", "login.failed"}},
		{"QueryAddress", AuditFilter{Query: "10.0.0.9"}, []string{"login.failed"}},
		{"Combined", AuditFilter{Actor: "alice", From: day.Add(time.Hour)}, []string{"dataset.view"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.AuditFind(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range got {
				actions = append(actions, e.Action)
			}
			if len(actions) != len(tc.want) {
				t.Fatalf("got %v, want %v", actions, tc.want)
			}
			for i := range actions {
				if actions[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", actions, tc.want)
				}
			}
		})
	}
	got, _ := s.AuditFind(ctx, AuditFilter{Action: "dataset.view"})
	if len(got) != 1 || got[0].Address != "127.0.0.7" || got[0].Outcome != OutcomeOK || got[0].Email != "alice@x.org" {
		t.Errorf("address from the context, default outcome: got %+v", got)
	}
	got, _ = s.AuditFind(ctx, AuditFilter{Action: "login.failed"})
	if len(got) != 1 || got[0].Address != "10.0.0.9" || got[0].Outcome != OutcomeFailed || got[0].Actor != "mallory@x.org" {
		t.Errorf("explicit address, outcome and actor: got %+v", got)
	}
}
