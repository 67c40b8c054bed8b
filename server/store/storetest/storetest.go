// Package storetest is the conformance suite of store.Store: every
// backend (store.SQLite, store/postgres) runs it, so that the server and
// the grid see one behaviour whichever database holds their state. In the
// spirit of river's riverdrivertest: a backend's test calls Run with a
// function that makes a new, empty database.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// NewDB makes a new, empty database for one test and returns a function
// that opens it; calling that again after closing the store it returned
// opens the same database, as a restart of the server does. Run closes
// every store it opens.
type NewDB func(t *testing.T) (open func() store.Store)

// Run runs the whole suite against the backend newDB makes.
func Run(t *testing.T, newDB NewDB) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, *harness)
	}{
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"UpdateCredentials", testUpdateCredentials},
		{"DatasetRoundTrip", testDatasetRoundTrip},
		{"DatasetListing", testDatasetListing},
		{"DatasetWriter", testDatasetWriter},
		{"UploadIsAllOrNothing", testUploadAllOrNothing},
		{"CrashLeavesNoIncompleteDataset", testCrashCleanup},
		{"Analyses", testAnalyses},
		{"GridWritesAndFinish", testGridWritesAndFinish},
		{"ConcurrentGridWrites", testConcurrentGridWrites},
		{"PendingResults", testPendingResults},
		{"DeleteDatasetCascades", testDeleteDatasetCascades},
		{"DeleteAnalysisCascades", testDeleteAnalysisCascades},
		{"ReopenVoted", testReopenVoted},
		{"CancelAnalysis", testCancelAnalysis},
		{"VolunteersAndLeaderboard", testVolunteers},
		{"TeamLeaderboard", testTeams},
		{"Bans", testBans},
		{"PortalMetadataAndBatches", testPortalMeta},
		{"IngestTemplates", testIngestTemplates},
		{"Audit", testAudit},
		{"Sessions", testSessions},
		{"Throttles", testThrottles},
		{"Corrections", testCorrections},
		{"GridHistory", testGridHistory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := newDB(t)
			h := &harness{t: t, openDB: open, ctx: context.Background()}
			h.s = h.open()
			tc.f(t, h)
		})
	}
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	openDB func() store.Store
	s      store.Store
}

func (h *harness) open() store.Store {
	s := h.openDB()
	h.t.Cleanup(func() { s.Close() })
	return s
}

// restart closes the store and opens its database again.
func (h *harness) restart() {
	h.s.Close()
	h.s = h.open()
}

func (h *harness) user(email string) store.User {
	h.t.Helper()
	u, err := h.s.CreateUser(h.ctx, store.User{Email: email, Role: store.RoleClinician, PasswordHash: "h"})
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got %v, want ErrNotFound", what, err)
	}
}

// recording is a small recording with a missing sample, a gain and
// reference annotations.
func recording() *signal.Recording {
	return &signal.Recording{
		Signal:      signal.Signal{Channels: []signal.Channel{{Name: "MLII", Unit: "mV", Rate: 360, Gain: 200, Samples: []float64{0.5, math.NaN(), -1}}}},
		Identity:    signal.Identity{PatientName: "Jane Doe", Record: "100", FileNames: []string{"100.hea", "100.dat"}},
		Annotations: []signal.Annotation{{Sample: 1, Code: 1}}, AnnotationRate: 360,
	}
}

// long is a recording of several segments per channel: an ADC channel
// (stored as integers), one without a gain with few distinct values
// (palette) and one of arbitrary values (raw), with gaps.
func long() *signal.Recording {
	n := 2*store.SegmentSamples + 1234
	a, b, c := make([]float64, n), make([]float64, n/2), make([]float64, n/4)
	for i := range a {
		a[i] = float64((i*7919)%2048-1024) / 200
	}
	for i := range b {
		b[i] = float64(i%37) * 0.1
	}
	for i := range c {
		c[i] = float64(i) * 1.000000001
	}
	a[5], b[store.SegmentSamples/2+1], c[0] = math.NaN(), math.NaN(), math.NaN()
	return &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{
		{Name: "ECG", Unit: "mV", Rate: 360, Gain: 200, Samples: a},
		{Name: "PLETH", Unit: "", Rate: 180, Samples: b},
		{Name: "ABP", Unit: "mmHg", Rate: 90, Samples: c},
	}}, Identity: signal.Identity{Record: "long"}}
}

// firstDiff is the first index where a and b differ (NaN equals NaN), or
// -1.
func firstDiff(a, b []float64) int {
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return i
		}
	}
	return -1
}

func testUsers(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers on an empty database: %d %v", n, err)
	}
	expires := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	a, err := s.CreateUser(ctx, store.User{Email: " Alice@x.org ", Role: store.RoleAdmin, PasswordHash: "h1", MustChange: true, PasswordExpires: expires})
	must(t, err)
	if a.ID == 0 || a.Email != "Alice@x.org" || a.CreatedAt.IsZero() {
		t.Errorf("created user %+v: want an id, the email trimmed, a creation time", a)
	}
	if _, err := s.CreateUser(ctx, store.User{Email: "alice@X.ORG", Role: store.RoleClinician, PasswordHash: "h"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the same email in other case: got %v, want ErrConflict", err)
	}
	b := h.user("bob@x.org")
	got, err := s.User(ctx, a.ID)
	must(t, err)
	if got.Email != "Alice@x.org" || got.Role != store.RoleAdmin || got.PasswordHash != "h1" || !got.MustChange || got.Disabled || !got.PasswordExpires.Equal(expires) || got.SessionEpoch != 0 {
		t.Errorf("User: %+v", got)
	}
	if got, err := s.UserByEmail(ctx, "ALICE@x.org "); err != nil || got.ID != a.ID {
		t.Errorf("UserByEmail ignores case and spaces: %+v %v", got, err)
	}
	_, err = s.User(ctx, 9999)
	wantNotFound(t, "User(9999)", err)
	_, err = s.UserByEmail(ctx, "nobody@x.org")
	wantNotFound(t, "UserByEmail(nobody)", err)
	b.Role, b.Disabled, b.MustChange, b.PasswordHash = store.RoleVolunteer, true, true, "h2"
	must(t, s.UpdateUser(ctx, b))
	if got, _ := s.User(ctx, b.ID); got.Role != store.RoleVolunteer || !got.Disabled || !got.MustChange || got.PasswordHash != "h2" || !got.PasswordExpires.IsZero() {
		t.Errorf("after UpdateUser: %+v", got)
	}
	wantNotFound(t, "UpdateUser of a missing user", s.UpdateUser(ctx, store.User{ID: 9999, Role: store.RoleClinician}))
	if n, _ := s.CountUsers(ctx); n != 2 {
		t.Errorf("CountUsers = %d, want 2", n)
	}
	must(t, s.RecordLogin(ctx, b.ID))
	us, err := s.Users(ctx)
	must(t, err)
	if len(us) != 2 || us[0].ID != a.ID || us[1].ID != b.ID || !us[0].LastLogin.IsZero() || us[1].LastLogin.IsZero() {
		t.Errorf("Users: %+v, want oldest first, only bob with a last login", us)
	}
	h.restart()
	if got, err := h.s.User(ctx, a.ID); err != nil || got.Email != "Alice@x.org" {
		t.Errorf("after a restart: %+v %v", got, err)
	}
}

func testTokens(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	a, b := h.user("a@x.org"), h.user("b@x.org")
	must(t, s.CreateToken(ctx, a.ID, "hash1", "first"))
	must(t, s.CreateTokenWithPrefix(ctx, a.ID, "hash2", "second", "pg_ab"))
	must(t, s.CreateToken(ctx, b.ID, "hash3", ""))
	if err := s.CreateToken(ctx, b.ID, "hash1", ""); err == nil {
		t.Error("a token hash stored twice")
	}
	if u, err := s.UserByToken(ctx, "hash2"); err != nil || u.ID != a.ID {
		t.Errorf("UserByToken: %+v %v", u, err)
	}
	_, err := s.UserByToken(ctx, "nope")
	wantNotFound(t, "UserByToken(unknown)", err)
	ts, err := s.Tokens(ctx, a.ID)
	must(t, err)
	if len(ts) != 2 || ts[0].Name != "second" || ts[0].Prefix != "pg_ab" || ts[1].Name != "first" || ts[0].CreatedAt.IsZero() || !ts[0].LastUsed.IsZero() {
		t.Errorf("Tokens: %+v, want newest first with name and prefix", ts)
	}
	wantNotFound(t, "RevokeToken of another user's token", s.RevokeToken(ctx, b.ID, ts[0].ID))
	must(t, s.RevokeToken(ctx, a.ID, ts[0].ID))
	wantNotFound(t, "RevokeToken twice", s.RevokeToken(ctx, a.ID, ts[0].ID))
	if _, err := s.UserByToken(ctx, "hash2"); err == nil {
		t.Error("a revoked token still works")
	}
	// A disabled account's tokens do not authenticate.
	b.Disabled = true
	must(t, s.UpdateUser(ctx, b))
	_, err = s.UserByToken(ctx, "hash3")
	wantNotFound(t, "UserByToken of a disabled user", err)
	must(t, s.DeleteTokens(ctx, a.ID))
	if ts, _ := s.Tokens(ctx, a.ID); len(ts) != 0 {
		t.Errorf("%d tokens after DeleteTokens", len(ts))
	}
}

func testUpdateCredentials(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u, err := s.CreateUser(ctx, store.User{Email: "a@x.org", Role: store.RoleClinician, PasswordHash: "h", MustChange: true, PasswordExpires: time.Now().Add(time.Hour)})
	must(t, err)
	other := h.user("b@x.org")
	s.CreateToken(ctx, u.ID, "t1", "")
	s.CreateToken(ctx, u.ID, "t2", "")
	s.CreateToken(ctx, other.ID, "t3", "")
	u.Disabled, u.PasswordHash = true, "h2"
	u2, err := s.UpdateCredentials(ctx, u)
	must(t, err)
	if u2.SessionEpoch != u.SessionEpoch+1 {
		t.Errorf("session epoch %d, want %d", u2.SessionEpoch, u.SessionEpoch+1)
	}
	if got, _ := s.User(ctx, u.ID); got.SessionEpoch != u2.SessionEpoch || !got.Disabled || got.PasswordHash != "h2" {
		t.Errorf("stored user %+v", got)
	}
	if ts, _ := s.Tokens(ctx, u.ID); len(ts) != 0 {
		t.Errorf("%d tokens left", len(ts))
	}
	if _, err := s.UserByToken(ctx, "t3"); err != nil {
		t.Errorf("another user's token went too: %v", err)
	}
	if u3, _ := s.UpdateCredentials(ctx, u2); u3.SessionEpoch != u2.SessionEpoch+1 {
		t.Errorf("second UpdateCredentials: epoch %d", u3.SessionEpoch)
	}
	if _, err := s.UpdateCredentials(ctx, store.User{ID: 9999, Role: store.RoleClinician}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateCredentials of a missing user: %v", err)
	}
}

func testDatasetRoundTrip(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n", TrustedOnly: true}, recording())
	must(t, err)
	if ds.ID == 0 || ds.Channels[0].Samples != 3 || ds.Duration != 3.0/360 || !ds.TrustedOnly {
		t.Errorf("metadata: %+v", ds)
	}
	got, err := s.Dataset(ctx, ds.ID)
	must(t, err)
	if got.Name != "n" || got.OwnerID != u.ID || !got.TrustedOnly || got.Duration != ds.Duration || len(got.Channels) != 1 || got.Channels[0] != ds.Channels[0] || got.CreatedAt.IsZero() {
		t.Errorf("Dataset: %+v, want %+v", got, ds)
	}
	sig, err := s.DatasetSignal(ctx, ds.ID)
	must(t, err)
	if c := sig.Channels[0]; c.Name != "MLII" || c.Unit != "mV" || c.Rate != 360 || c.Gain != 200 || len(c.Samples) != 3 || c.Samples[0] != 0.5 || !math.IsNaN(c.Samples[1]) || c.Samples[2] != -1 {
		t.Errorf("signal round trip: %+v", c)
	}
	ident, anns, rate, err := s.DatasetIdentity(ctx, ds.ID)
	if err != nil || ident.PatientName != "Jane Doe" || ident.Record != "100" || len(ident.FileNames) != 2 || len(anns) != 1 || anns[0].Sample != 1 || rate != 360 {
		t.Errorf("identity round trip: %+v %v %v %v", ident, anns, rate, err)
	}
	_, err = s.Dataset(ctx, 9999)
	wantNotFound(t, "Dataset(9999)", err)
	_, err = s.DatasetSignal(ctx, 9999)
	wantNotFound(t, "DatasetSignal(9999)", err)
	_, _, _, err = s.DatasetIdentity(ctx, 9999)
	wantNotFound(t, "DatasetIdentity(9999)", err)
	_, err = s.DatasetSamples(ctx, ds.ID, 1, 0, 10)
	wantNotFound(t, "DatasetSamples of a missing channel", err)

	// Several segments per channel, three encodings, read whole, by window
	// and as summaries, after a restart.
	rec := long()
	big, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "long"}, rec)
	must(t, err)
	h.restart()
	s = h.s
	sig, err = s.DatasetSignal(ctx, big.ID)
	must(t, err)
	for i, want := range rec.Signal.Channels {
		got := sig.Channels[i]
		if got.Name != want.Name || got.Unit != want.Unit || got.Rate != want.Rate || got.Gain != want.Gain {
			t.Errorf("channel %d: %s %s %v %v", i, got.Name, got.Unit, got.Rate, got.Gain)
		}
		if j := firstDiff(got.Samples, want.Samples); j >= 0 {
			t.Fatalf("channel %d differs at sample %d", i, j)
		}
		n := int64(len(want.Samples))
		for _, w := range [][2]int64{{0, 10}, {store.SegmentSamples - 3, store.SegmentSamples + 5}, {n - 7, n + 100}, {-5, 3}, {n / 3, n/3 + 2*store.SegmentSamples}, {n, n + 1}, {10, 5}} {
			part, err := s.DatasetSamples(ctx, big.ID, i, w[0], w[1])
			must(t, err)
			lo, hi := max(w[0], 0), min(w[1], n)
			if lo > hi {
				lo = hi
			}
			if j := firstDiff(part, want.Samples[lo:hi]); j >= 0 {
				t.Errorf("channel %d window %v differs at %d", i, w, j)
			}
		}
		sums, err := s.DatasetSummaries(ctx, big.ID, i)
		must(t, err)
		if wantBlocks := (len(want.Samples) + store.SummaryBlock - 1) / store.SummaryBlock; len(sums) != wantBlocks {
			t.Fatalf("channel %d: %d summaries, want %d", i, len(sums), wantBlocks)
		}
		var total, present int
		for _, b := range sums {
			total += b.Samples
			present += b.Count
		}
		if total != len(want.Samples) || present != len(want.Samples)-want.MissingCount() {
			t.Errorf("channel %d: summaries count %d samples (%d present), want %d (%d)", i, total, present, len(want.Samples), len(want.Samples)-want.MissingCount())
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range want.Samples[:store.SummaryBlock] {
			if !math.IsNaN(v) {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		if b := sums[0]; b.Min != lo || b.Max != hi {
			t.Errorf("channel %d block 0: min %v max %v, want %v %v", i, b.Min, b.Max, lo, hi)
		}
	}
}

func testDatasetListing(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	a, b := h.user("a@x.org"), h.user("b@x.org")
	before := time.Now().Add(-time.Second)
	var ids []int64
	for i, owner := range []int64{a.ID, b.ID, a.ID} {
		d, err := s.CreateDataset(ctx, store.Dataset{OwnerID: owner, Name: fmt.Sprint("d", i)}, recording())
		must(t, err)
		ids = append(ids, d.ID)
	}
	names := func(ds []store.Dataset) (out []string) {
		for _, d := range ds {
			out = append(out, d.Name)
		}
		return out
	}
	if ds, err := s.Datasets(ctx, a.ID); err != nil || !slices.Equal(names(ds), []string{"d2", "d0"}) {
		t.Errorf("Datasets(a) = %v %v, want [d2 d0] (newest first, a's only)", names(ds), err)
	}
	if ds, _ := s.Datasets(ctx, 0); !slices.Equal(names(ds), []string{"d2", "d1", "d0"}) {
		t.Errorf("Datasets(0) = %v, want everyone's newest first", names(ds))
	}
	if ds, err := s.Datasets(ctx, 9999); err != nil || ds == nil || len(ds) != 0 {
		t.Errorf("Datasets of a user with none: %#v %v, want an empty list", ds, err)
	}
	if n, err := s.CountDatasetsSince(ctx, a.ID, before); err != nil || n != 2 {
		t.Errorf("CountDatasetsSince(a, before) = %d %v, want 2", n, err)
	}
	if n, _ := s.CountDatasetsSince(ctx, a.ID, time.Now().Add(time.Hour)); n != 0 {
		t.Errorf("CountDatasetsSince(a, later) = %d, want 0", n)
	}
}

func testDatasetWriter(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	if _, err := s.BeginDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "none"}, nil); err == nil {
		t.Error("a dataset without channels was begun")
	}
	chans := []signal.Channel{{Name: "a", Rate: 1, Gain: 1}, {Name: "b", Rate: 2, Gain: 1}}
	block := func(n int) [][]float64 { return [][]float64{make([]float64, n), make([]float64, 2*n)} }
	w, err := s.BeginDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "x"}, chans)
	must(t, err)
	for range 40 { // several flushes
		must(t, w.Write(block(store.SegmentSamples)))
	}
	if ds, _ := s.Datasets(ctx, 0); len(ds) != 0 {
		t.Errorf("a dataset being written is listed: %+v", ds)
	}
	if _, err := s.Dataset(ctx, w.ID()); err == nil {
		t.Error("a dataset being written can be read")
	}
	if n, _ := s.CountDatasetsSince(ctx, u.ID, time.Time{}); n != 1 {
		t.Errorf("CountDatasetsSince counts %d, want the one being written", n)
	}
	if err := w.Write([][]float64{{1}}); err == nil {
		t.Error("a write with the wrong number of channels succeeded")
	}
	must(t, w.Abort())
	if n, _ := s.CountDatasetsSince(ctx, u.ID, time.Time{}); n != 0 {
		t.Errorf("%d datasets after Abort", n)
	}
	if _, err := s.DatasetSummaries(ctx, w.ID(), 0); err != nil {
		t.Error(err)
	} else if sums, _ := s.DatasetSummaries(ctx, w.ID(), 0); len(sums) != 0 {
		t.Errorf("%d summaries of an aborted dataset", len(sums))
	}

	w, err = s.BeginDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "ok"}, chans)
	must(t, err)
	must(t, w.Write(block(10)))
	must(t, w.Write(block(store.SegmentSamples)))
	ds, err := w.Commit(signal.Identity{Record: "ok"}, nil, 0)
	must(t, err)
	if _, err := w.Commit(signal.Identity{}, nil, 0); err == nil {
		t.Error("committed twice")
	}
	if err := w.Write(block(1)); err == nil {
		t.Error("a write after Commit succeeded")
	}
	if list, _ := s.Datasets(ctx, u.ID); len(list) != 0 {
		t.Errorf("a committed dataset is listed before it is published: %+v", list)
	}
	must(t, s.PublishDatasets(ctx, []int64{ds.ID}))
	if err := s.PublishDatasets(ctx, []int64{ds.ID}); err == nil {
		t.Error("a dataset was published twice")
	}
	if ds.Channels[0].Samples != store.SegmentSamples+10 || ds.Channels[1].Samples != 2*(store.SegmentSamples+10) || ds.Duration != store.SegmentSamples+10 {
		t.Errorf("committed dataset: %+v", ds)
	}
	if list, _ := s.Datasets(ctx, u.ID); len(list) != 1 {
		t.Errorf("published dataset not listed: %+v", list)
	}
	must(t, w.Abort())
	if _, err := s.Dataset(ctx, ds.ID); err != nil {
		t.Errorf("Abort after Commit removed the dataset: %v", err)
	}
	if ident, anns, _, err := s.DatasetIdentity(ctx, ds.ID); err != nil || ident.Record != "ok" || anns == nil || len(anns) != 0 {
		t.Errorf("identity of a dataset committed without annotations: %+v %#v %v", ident, anns, err)
	}
}

// testUploadAllOrNothing: the recordings of one upload are published in
// one transaction; one that cannot be published keeps all hidden.
func testUploadAllOrNothing(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	var ids []int64
	for _, name := range []string{"r1", "r2"} {
		w, err := s.BeginDataset(ctx, store.Dataset{OwnerID: u.ID, Name: name}, recording().Signal.Channels)
		must(t, err)
		must(t, w.Write([][]float64{{1, 2, 3}}))
		_, err = w.Commit(signal.Identity{}, nil, 0)
		must(t, err)
		ids = append(ids, w.ID())
	}
	if err := s.PublishDatasets(ctx, append(slices.Clone(ids), 9999)); err == nil {
		t.Fatal("publishing a missing dataset succeeded")
	}
	if list, _ := s.Datasets(ctx, 0); len(list) != 0 {
		t.Errorf("a failed publication made %d datasets visible", len(list))
	}
	must(t, s.PublishDatasets(ctx, ids))
	if list, _ := s.Datasets(ctx, 0); len(list) != 2 {
		t.Errorf("%d datasets after publishing both", len(list))
	}
}

// testCrashCleanup: a dataset being written, or committed and not yet
// published, when the server stops is gone after the next start.
func testCrashCleanup(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	chans := []signal.Channel{{Name: "a", Rate: 1, Gain: 1}}
	w, err := s.BeginDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "crash"}, chans)
	must(t, err)
	for range 5 {
		must(t, w.Write([][]float64{make([]float64, store.SegmentSamples)}))
	}
	w2, err := s.BeginDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "committed"}, chans)
	must(t, err)
	w2.Write([][]float64{{1, 2}})
	_, err = w2.Commit(signal.Identity{}, nil, 0)
	must(t, err)
	kept, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "kept"}, recording())
	must(t, err)
	h.restart()
	if n, _ := h.s.CountDatasetsSince(ctx, u.ID, time.Time{}); n != 1 {
		t.Errorf("%d datasets after a restart, want only the published one", n)
	}
	for _, id := range []int64{w.ID(), w2.ID()} {
		if sums, _ := h.s.DatasetSummaries(ctx, id, 0); len(sums) != 0 {
			t.Errorf("dataset %d: segments survived the restart", id)
		}
	}
	if _, err := h.s.Dataset(ctx, kept.ID); err != nil {
		t.Errorf("the published dataset: %v", err)
	}
}

func newAnalysis(t *testing.T, h *harness, owner, dataset int64, status string, chunks int) store.Analysis {
	t.Helper()
	a, err := h.s.CreateAnalysis(h.ctx, store.Analysis{DatasetID: dataset, OwnerID: owner, Algorithm: "ecg.beats@1", Params: []byte(`{"k":1}`), Priority: "routine", Status: status, ChunksTotal: chunks})
	must(t, err)
	return a
}

func testAnalyses(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	a, b := h.user("a@x.org"), h.user("b@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: a.ID, Name: "n"}, recording())
	must(t, err)
	x, err := s.CreateAnalysis(ctx, store.Analysis{DatasetID: ds.ID, OwnerID: a.ID, Algorithm: "ecg.hrv@1", Params: []byte(`{"x":2}`), Priority: "stat"})
	must(t, err)
	if x.ID == 0 || x.Status != store.StatusQueued || x.CreatedAt.IsZero() {
		t.Errorf("created analysis %+v: want an id, queued, a creation time", x)
	}
	y := newAnalysis(t, h, b.ID, ds.ID, store.StatusRunning, 4)
	z := newAnalysis(t, h, a.ID, ds.ID, store.StatusQueued, 0)
	if _, err := s.CreateAnalysis(ctx, store.Analysis{DatasetID: ds.ID, OwnerID: a.ID, Algorithm: "x", Params: []byte(`{}`), Priority: "whenever"}); err == nil {
		t.Error("an analysis with an unknown priority was stored")
	}
	got, err := s.Analysis(ctx, x.ID)
	must(t, err)
	if got.DatasetID != ds.ID || got.OwnerID != a.ID || got.Algorithm != "ecg.hrv@1" || string(got.Params) != `{"x":2}` || got.Priority != "stat" || got.Status != store.StatusQueued || !got.FinishedAt.IsZero() || got.Finished() {
		t.Errorf("Analysis: %+v", got)
	}
	_, err = s.Analysis(ctx, 9999)
	wantNotFound(t, "Analysis(9999)", err)
	ids := func(as []store.Analysis) (out []int64) {
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	if as, _ := s.Analyses(ctx, a.ID); !slices.Equal(ids(as), []int64{z.ID, x.ID}) {
		t.Errorf("Analyses(a) = %v, want [%d %d]", ids(as), z.ID, x.ID)
	}
	if as, _ := s.Analyses(ctx, 0); !slices.Equal(ids(as), []int64{z.ID, y.ID, x.ID}) {
		t.Errorf("Analyses(0) = %v", ids(as))
	}
	must(t, s.SetAnalysisStatus(ctx, z.ID, store.StatusCancelled, "cancelled by a@x.org", 3))
	if as, _ := s.UnfinishedAnalyses(ctx); !slices.Equal(ids(as), []int64{x.ID, y.ID}) {
		t.Errorf("UnfinishedAnalyses = %v, want oldest first without the cancelled one", ids(as))
	}
	if got, _ := s.Analysis(ctx, z.ID); got.Status != store.StatusCancelled || got.Error != "cancelled by a@x.org" || got.ChunksTotal != 3 || got.FinishedAt.IsZero() || !got.Finished() {
		t.Errorf("after SetAnalysisStatus(cancelled): %+v", got)
	}
	must(t, s.SetAnalysisStatus(ctx, x.ID, store.StatusRunning, "", 7))
	if got, _ := s.Analysis(ctx, x.ID); got.Status != store.StatusRunning || got.ChunksTotal != 7 || !got.FinishedAt.IsZero() {
		t.Errorf("after SetAnalysisStatus(running): %+v", got)
	}
	wantNotFound(t, "SetAnalysisStatus of a missing analysis", s.SetAnalysisStatus(ctx, 9999, store.StatusFailed, "x", 0))
	// A failed analysis forgets its chunk outputs.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: y.ID, Index: 0, Digest: "d", Output: []byte{1}, Replicas: 2}}}))
	must(t, s.SetAnalysisStatus(ctx, y.ID, store.StatusFailed, "chunk 0: no agreement", 4))
	if outs, _ := s.ChunkOutputs(ctx, y.ID); len(outs) != 0 {
		t.Errorf("%d chunk outputs kept after the analysis failed", len(outs))
	}
}

func testGridWritesAndFinish(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, recording())
	must(t, err)
	a := newAnalysis(t, h, u.ID, ds.ID, store.StatusQueued, 2)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d", Output: []byte{1, 2}, Replicas: 2, Voters: []string{"v-a", "v-b"}}}}))
	if got, _ := s.Analysis(ctx, a.ID); got.ChunksVerified != 1 || got.Status != store.StatusRunning {
		t.Errorf("after a verified chunk: %+v, want 1 verified and running", got)
	}
	outs, err := s.ChunkOutputs(ctx, a.ID)
	must(t, err)
	if len(outs) != 1 || outs[0].Index != 0 || outs[0].Digest != "d" || string(outs[0].Output) != "\x01\x02" || outs[0].Replicas != 2 || !slices.Equal(outs[0].Voters, []string{"v-a", "v-b"}) || outs[0].AnalysisID != a.ID {
		t.Errorf("ChunkOutputs: %+v", outs)
	}
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Withdraw: &store.ChunkRef{AnalysisID: a.ID, Index: 0}}}))
	if got, _ := s.Analysis(ctx, a.ID); got.ChunksVerified != 0 {
		t.Errorf("chunks_verified after a withdrawal: %d", got.ChunksVerified)
	}
	// One batch: chunk 1, chunk 0 twice (the second replaces the first).
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{
		{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 1, Digest: "d1", Output: []byte{1}, Replicas: 2}},
		{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "x", Output: []byte{9}, Replicas: 3}},
		{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d0", Output: []byte{0}, Replicas: 1}},
	}))
	if got, _ := s.Analysis(ctx, a.ID); got.ChunksVerified != 2 {
		t.Errorf("chunks_verified: %d, want 2", got.ChunksVerified)
	}
	// A later correction of chunk 1 and the withdrawal of a chunk that has
	// no output count nothing.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{
		{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 1, Digest: "d1", Output: []byte{1}, Replicas: 3}},
		{Withdraw: &store.ChunkRef{AnalysisID: a.ID, Index: 5}},
	}))
	if got, _ := s.Analysis(ctx, a.ID); got.ChunksVerified != 2 {
		t.Errorf("chunks_verified after a correction and an empty withdrawal: %d, want 2", got.ChunksVerified)
	}
	if outs, _ := s.ChunkOutputs(ctx, a.ID); len(outs) != 2 || outs[1].Replicas != 3 {
		t.Errorf("the correction of chunk 1 was not stored: %+v", outs)
	}
	if err := s.FinishAnalysis(ctx, a.ID, []byte(`{"ok":1}`), "ok", false, []string{"d0"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("finishing with a chunk output missing: %v, want ErrConflict", err)
	}
	if err := s.FinishAnalysis(ctx, a.ID, []byte(`{"ok":1}`), "ok", false, []string{"x", "d1"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("finishing with other outputs than stored: %v, want ErrConflict", err)
	}
	_, err = s.AnalysisResult(ctx, a.ID)
	wantNotFound(t, "AnalysisResult before the merge", err)
	must(t, s.FinishAnalysis(ctx, a.ID, []byte(`{"ok":1}`), "2 beats", false, []string{"d0", "d1"}))
	got, _ := s.Analysis(ctx, a.ID)
	if got.Status != store.StatusDone || got.Summary != "2 beats" || got.ChunksVerified != 2 || got.FinishedAt.IsZero() || got.Error != "" {
		t.Errorf("after FinishAnalysis: %+v", got)
	}
	if r, err := s.AnalysisResult(ctx, a.ID); err != nil || string(r) != `{"ok":1}` {
		t.Errorf("AnalysisResult: %q %v", r, err)
	}
	if outs, _ := s.ChunkOutputs(ctx, a.ID); len(outs) != 2 {
		t.Errorf("%d chunk outputs after the merge, want both kept", len(outs))
	}
	wantNotFound(t, "finishing a done analysis", s.FinishAnalysis(ctx, a.ID, []byte(`{}`), "", false, []string{"d0", "d1"}))
	// Writes for a finished analysis are dropped, not errors.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "late", Output: []byte{1}}}}))
	if outs, _ := s.ChunkOutputs(ctx, a.ID); outs[0].Digest != "d0" {
		t.Errorf("a late write replaced a done analysis's output: %+v", outs[0])
	}
	// A revised merge says so.
	b := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: b.ID, Index: 0, Digest: "e", Output: []byte{}, Replicas: 2}}})
	must(t, s.FinishAnalysis(ctx, b.ID, []byte(`{}`), "", true, []string{"e"}))
	if got, _ := s.Analysis(ctx, b.ID); got.Status != store.StatusDone || got.Error == "" {
		t.Errorf("a revised merge: %+v, want done with a note", got)
	}
	if outs, _ := s.ChunkOutputs(ctx, b.ID); len(outs) != 1 || len(outs[0].Output) != 0 || outs[0].Digest != "e" {
		t.Errorf("an empty output: %#v", outs)
	}
	must(t, s.ApplyGridWrites(ctx, nil))
	// Survives a restart.
	h.restart()
	if r, err := h.s.AnalysisResult(ctx, a.ID); err != nil || string(r) != `{"ok":1}` {
		t.Errorf("AnalysisResult after a restart: %q %v", r, err)
	}
}

// testConcurrentGridWrites: batches for one analysis written at once from
// several goroutines (on PostgreSQL, as several servers would) lose none.
func testConcurrentGridWrites(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, recording())
	must(t, err)
	const writers, each = 4, 10
	a := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, writers*each)
	b := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, writers*each)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				idx := w*each + i
				// Both analyses in one batch, in an order that differs by writer.
				ws := []store.GridWrite{
					{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: idx, Digest: "d", Output: []byte{1}, Replicas: 2}},
					{Verify: &store.ChunkOutput{AnalysisID: b.ID, Index: idx, Digest: "d", Output: []byte{1}, Replicas: 2}},
				}
				if w%2 == 1 {
					ws[0], ws[1] = ws[1], ws[0]
				}
				if err := s.ApplyGridWrites(ctx, ws); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, id := range []int64{a.ID, b.ID} {
		if got, _ := s.Analysis(ctx, id); got.ChunksVerified != writers*each {
			t.Errorf("analysis %d: chunks_verified %d, want %d", id, got.ChunksVerified, writers*each)
		}
	}
}

func testDeleteDatasetCascades(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, long())
	must(t, err)
	other, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "other"}, recording())
	must(t, err)
	must(t, s.SetDatasetMeta(ctx, ds.ID, store.DatasetMeta{Format: "wfdb", SizeBytes: 10}))
	must(t, s.SetDatasetMeta(ctx, other.ID, store.DatasetMeta{Format: "edf"}))
	a := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	b := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	keep := newAnalysis(t, h, u.ID, other.ID, store.StatusRunning, 1)
	must(t, s.SetBatch(ctx, a.ID, []int64{a.ID, b.ID, keep.ID}))
	for _, an := range []store.Analysis{a, b, keep} {
		must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: an.ID, Index: 0, Digest: "d", Output: []byte{1}, Replicas: 2, Voters: []string{"v-a"}}}}))
	}
	must(t, s.FinishAnalysis(ctx, a.ID, []byte(`{}`), "", false, []string{"d"}))
	for _, an := range []store.Analysis{b, keep} {
		must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Pend: &store.PendingResult{AnalysisID: an.ID, Index: 1, Task: "t", Volunteer: "v-a", Network: "n", Digest: "p", Output: []byte{7}}}}))
	}

	must(t, s.DeleteDataset(ctx, ds.ID))
	wantPending(t, h, "a deleted dataset's analysis", b.ID)
	wantPending(t, h, "the other dataset's analysis", keep.ID, "1/v-a/p")
	_, err = s.Dataset(ctx, ds.ID)
	wantNotFound(t, "Dataset after delete", err)
	_, _, _, err = s.DatasetIdentity(ctx, ds.ID)
	wantNotFound(t, "DatasetIdentity after delete", err)
	for ch := range 3 {
		if sums, _ := s.DatasetSummaries(ctx, ds.ID, ch); len(sums) != 0 {
			t.Errorf("channel %d: %d segment summaries left", ch, len(sums))
		}
	}
	for _, id := range []int64{a.ID, b.ID} {
		_, err = s.Analysis(ctx, id)
		wantNotFound(t, "analysis of a deleted dataset", err)
		if outs, _ := s.ChunkOutputs(ctx, id); len(outs) != 0 {
			t.Errorf("analysis %d: chunk outputs left", id)
		}
	}
	_, err = s.AnalysisResult(ctx, a.ID)
	wantNotFound(t, "result of a deleted dataset's analysis", err)
	if m, _ := s.DatasetMetas(ctx, []int64{ds.ID, other.ID}); len(m) != 1 || m[other.ID].Format != "edf" {
		t.Errorf("DatasetMetas after delete: %+v, want only the other dataset's", m)
	}
	if bs, _ := s.Batches(ctx, []int64{a.ID, b.ID, keep.ID}); len(bs) != 1 || bs[keep.ID] != a.ID {
		t.Errorf("Batches after delete: %+v, want only the kept analysis", bs)
	}
	if ids, co, err := s.ReopenVoted(ctx, "v-a", "x"); err != nil || !slices.Equal(ids, []int64{keep.ID}) || len(co) != 0 {
		t.Errorf("ReopenVoted after delete: %v %v %v, want only the kept analysis", ids, co, err)
	}
	if _, err := s.Dataset(ctx, other.ID); err != nil {
		t.Errorf("the other dataset: %v", err)
	}
	// A batched write for an analysis deleted meanwhile is dropped, not an error.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d", Output: []byte{1}}}}))
	wantNotFound(t, "second DeleteDataset", s.DeleteDataset(ctx, ds.ID))
}

func testDeleteAnalysisCascades(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, recording())
	must(t, err)
	a := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	must(t, s.SetBatch(ctx, a.ID, []int64{a.ID}))
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d", Output: []byte{1}, Replicas: 2}}}))
	must(t, s.FinishAnalysis(ctx, a.ID, []byte(`{}`), "", false, []string{"d"}))
	must(t, s.DeleteAnalysis(ctx, a.ID))
	_, err = s.Analysis(ctx, a.ID)
	wantNotFound(t, "Analysis after delete", err)
	_, err = s.AnalysisResult(ctx, a.ID)
	wantNotFound(t, "AnalysisResult after delete", err)
	if outs, _ := s.ChunkOutputs(ctx, a.ID); len(outs) != 0 {
		t.Errorf("%d chunk outputs left", len(outs))
	}
	if bs, _ := s.Batches(ctx, []int64{a.ID}); len(bs) != 0 {
		t.Errorf("batch left: %v", bs)
	}
	wantNotFound(t, "second DeleteAnalysis", s.DeleteAnalysis(ctx, a.ID))
	// A running analysis takes its pending results along.
	r := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 2)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Pend: &store.PendingResult{AnalysisID: r.ID, Index: 1, Task: "t", Volunteer: "v-a", Network: "n", Digest: "p", Output: []byte{7}}}}))
	wantPending(t, h, "before DeleteAnalysis", r.ID, "1/v-a/p")
	must(t, s.DeleteAnalysis(ctx, r.ID))
	wantPending(t, h, "after DeleteAnalysis", r.ID)
	if _, err := s.Dataset(ctx, ds.ID); err != nil {
		t.Errorf("the dataset went with its analysis: %v", err)
	}
}

func testReopenVoted(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, recording())
	must(t, err)
	done := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 2)
	running := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 2)
	clean := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{
		{Verify: &store.ChunkOutput{AnalysisID: done.ID, Index: 0, Digest: "a", Output: []byte{1}, Replicas: 2, Voters: []string{"v-liar", "v-b"}}},
		{Verify: &store.ChunkOutput{AnalysisID: done.ID, Index: 1, Digest: "b", Output: []byte{1}, Replicas: 2, Voters: []string{"v-c", "v-d"}}},
		{Verify: &store.ChunkOutput{AnalysisID: running.ID, Index: 0, Digest: "a", Output: []byte{1}, Replicas: 2, Voters: []string{"v-e", "v-liar"}}},
		// An id that contains the liar's as a part is not the liar.
		{Verify: &store.ChunkOutput{AnalysisID: clean.ID, Index: 0, Digest: "a", Output: []byte{1}, Replicas: 2, Voters: []string{"v-liar2", "xv-liar"}}},
	}))
	must(t, s.FinishAnalysis(ctx, done.ID, []byte(`{}`), "", false, []string{"a", "b"}))
	// Rows left waiting for a chunk verified meanwhile (a leader killed
	// between the two batches, say) do not outlive its withdrawal.
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{
		{Pend: &store.PendingResult{AnalysisID: running.ID, Index: 0, Task: "t", Volunteer: "v-old", Network: "n", Digest: "a", Output: []byte{1}}},
		{Pend: &store.PendingResult{AnalysisID: running.ID, Index: 1, Task: "t", Volunteer: "v-old", Network: "n", Digest: "a", Output: []byte{1}}},
	}))
	ids, co, err := s.ReopenVoted(ctx, "v-liar", "revised: v-liar was caught")
	must(t, err)
	slices.Sort(ids)
	slices.Sort(co)
	if !slices.Equal(ids, []int64{done.ID, running.ID}) || !slices.Equal(co, []string{"v-b", "v-e"}) {
		t.Errorf("ReopenVoted = %v %v, want analyses [%d %d] and co-voters [v-b v-e]", ids, co, done.ID, running.ID)
	}
	if got, _ := s.Analysis(ctx, done.ID); got.Status != store.StatusRunning || got.Revision != 1 || got.ChunksVerified != 1 || got.Error != "revised: v-liar was caught" {
		t.Errorf("the done analysis after a reopen: %+v", got)
	}
	if got, _ := s.Analysis(ctx, running.ID); got.Status != store.StatusRunning || got.Revision != 0 || got.ChunksVerified != 0 || got.Error != "" {
		t.Errorf("the running analysis after a reopen: %+v", got)
	}
	if outs, _ := s.ChunkOutputs(ctx, done.ID); len(outs) != 1 || outs[0].Index != 1 {
		t.Errorf("outputs left: %+v, want chunk 1 only", outs)
	}
	wantPending(t, h, "the running analysis after a reopen", running.ID, "1/v-old/a")
	if got, _ := s.Analysis(ctx, clean.ID); got.ChunksVerified != 1 {
		t.Errorf("an analysis the liar did not vote on was touched: %+v", got)
	}
	if ids, _, err := s.ReopenVoted(ctx, "v-liar", "again"); err != nil || len(ids) != 0 {
		t.Errorf("a second ReopenVoted: %v %v, want nothing left to reopen", ids, err)
	}
	for _, bad := range []string{"", "a b", "v%", "v_x"} {
		if _, _, err := s.ReopenVoted(ctx, bad, "x"); err == nil {
			t.Errorf("ReopenVoted(%q) accepted", bad)
		}
	}
}

func testVolunteers(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("machine@x.org")
	now := time.Now().Truncate(time.Millisecond).UTC()
	vs := []store.Volunteer{
		{ID: "v-a", PublicKey: "ka", UserID: u.ID, Agent: "native", Reputation: 4, Validated: 3, Rejected: 1, Nickname: "Ada", Team: "Red Cross", Requests: 9, Issued: 8, Results: 7, Failed: 1, CPUMicros: 4_000_000, CreditMicros: 2_500_000, CompletionMicros: 700_000, CreatedAt: now, LastSeen: now.Add(-time.Minute)},
		{ID: "v-b", PublicKey: "kb", Validated: 5, CPUMicros: 9_000_000, CreditMicros: 9_000_000, CreatedAt: now, LastSeen: now},
		{ID: "v-c", PublicKey: "kc", Nickname: "NoCredit", Results: 2, CPUMicros: 100, CreatedAt: now, LastSeen: now.Add(-time.Hour)},
	}
	must(t, s.SaveVolunteers(ctx, vs))
	vs[0].CreditMicros, vs[0].Nickname, vs[0].Reputation = 3_000_000, "Ada L.", 5
	must(t, s.SaveVolunteers(ctx, vs[:1]))
	must(t, s.SaveVolunteers(ctx, nil))
	h.restart()
	s = h.s
	got, err := s.Volunteer(ctx, "v-a")
	must(t, err)
	if got != vs[0] {
		t.Errorf("Volunteer:\n got %+v\nwant %+v", got, vs[0])
	}
	if d := got.AvgCompletion(); d != 100*time.Millisecond {
		t.Errorf("AvgCompletion = %v, want 100ms", d)
	}
	_, err = s.Volunteer(ctx, "v-none")
	wantNotFound(t, "Volunteer(v-none)", err)
	board, err := s.Leaderboard(ctx, 10)
	must(t, err)
	var ids []string
	for _, v := range board {
		ids = append(ids, v.ID)
		if v.PublicKey != "" {
			t.Errorf("%s: leaderboard row carries the public key", v.ID)
		}
	}
	if !slices.Equal(ids, []string{"v-b", "v-a"}) {
		t.Errorf("Leaderboard %v, want [v-b v-a] (most credit first, none without credit)", ids)
	}
	if board, _ := s.Leaderboard(ctx, 1); len(board) != 1 {
		t.Errorf("Leaderboard limit 1: %d rows", len(board))
	}
	list, err := s.Volunteers(ctx, 10)
	must(t, err)
	ids = nil
	for _, v := range list {
		ids = append(ids, v.ID)
	}
	if !slices.Equal(ids, []string{"v-b", "v-a", "v-c"}) || list[1].UserID != u.ID {
		t.Errorf("Volunteers %v, want most recently seen first, with the enrolling user", ids)
	}
	if list, _ := s.Volunteers(ctx, 2); len(list) != 2 {
		t.Errorf("Volunteers limit 2: %d", len(list))
	}
}

// testTeams: a team's standing sums its members' counters; teams without
// credit and volunteers without a team are left out; a volunteer that
// changes teams takes its credit along.
func testTeams(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	now := time.Now().Truncate(time.Millisecond).UTC()
	vs := []store.Volunteer{
		{ID: "v-t1", PublicKey: "k1", Team: "Blue", Results: 4, Validated: 3, CPUMicros: 5_000_000, CreditMicros: 4_000_000, CreatedAt: now, LastSeen: now},
		{ID: "v-t2", PublicKey: "k2", Team: "Blue", Results: 2, Validated: 2, CPUMicros: 2_000_000, CreditMicros: 1_500_000, CreatedAt: now, LastSeen: now},
		{ID: "v-t3", PublicKey: "k3", Team: "Red", Results: 9, Validated: 9, CPUMicros: 7_000_000, CreditMicros: 5_000_000, CreatedAt: now, LastSeen: now},
		{ID: "v-t4", PublicKey: "k4", Team: "Idle", Results: 1, CPUMicros: 100, CreatedAt: now, LastSeen: now},
		{ID: "v-t5", PublicKey: "k5", Results: 50, Validated: 50, CPUMicros: 90_000_000, CreditMicros: 90_000_000, CreatedAt: now, LastSeen: now},
	}
	must(t, s.SaveVolunteers(ctx, vs))
	teams, err := s.TeamLeaderboard(ctx, 10)
	must(t, err)
	want := []store.TeamStanding{
		{Name: "Blue", Members: 2, Results: 6, Validated: 5, CPUMicros: 7_000_000, CreditMicros: 5_500_000},
		{Name: "Red", Members: 1, Results: 9, Validated: 9, CPUMicros: 7_000_000, CreditMicros: 5_000_000},
	}
	if !slices.Equal(teams, want) {
		t.Errorf("TeamLeaderboard:\n got %+v\nwant %+v", teams, want)
	}
	if got := teams[0].Credit(); got != 5.5 {
		t.Errorf("Blue's credit %v, want 5.5 CPU s", got)
	}
	// v-t1 moves to Red: its credit goes with it.
	vs[0].Team = "Red"
	must(t, s.SaveVolunteers(ctx, vs[:1]))
	teams, err = s.TeamLeaderboard(ctx, 1)
	must(t, err)
	if len(teams) != 1 || teams[0].Name != "Red" || teams[0].Members != 2 || teams[0].CreditMicros != 9_000_000 {
		t.Errorf("after a move, limit 1: %+v, want Red alone with 2 members and 9 CPU s", teams)
	}
}

func testBans(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	now := time.Now().Truncate(time.Millisecond).UTC()
	must(t, s.SaveVolunteers(ctx, []store.Volunteer{{ID: "v-a", PublicKey: "k", Reputation: 50}, {ID: "v-b", PublicKey: "k", Reputation: 3}, {ID: "v-c", PublicKey: "k", Reputation: 40}}))
	must(t, s.CapReputation(ctx, []string{"v-a", "v-b", "v-none"}, 10))
	must(t, s.CapReputation(ctx, nil, 0))
	for id, want := range map[string]int64{"v-a": 10, "v-b": 3, "v-c": 40} {
		if v, _ := s.Volunteer(ctx, id); v.Reputation != want {
			t.Errorf("%s: reputation %d, want %d", id, v.Reputation, want)
		}
	}
	later := now.Add(time.Hour)
	must(t, s.BanVolunteer(ctx, "v-a", later))
	must(t, s.BanVolunteer(ctx, "v-a", now.Add(time.Minute))) // a shorter ban does not shorten it
	v, _ := s.Volunteer(ctx, "v-a")
	if !v.BannedUntil.Equal(later) || v.Reputation != 0 || v.Rejected != 2 {
		t.Errorf("after two bans: %+v, want banned until %v, reputation 0, 2 rejections", v, later)
	}
	// The grid's periodic save of its in-memory copy does not lift a ban.
	v.BannedUntil = time.Time{}
	must(t, s.SaveVolunteers(ctx, []store.Volunteer{v}))
	if v, _ := s.Volunteer(ctx, "v-a"); !v.BannedUntil.Equal(later) {
		t.Errorf("SaveVolunteers lifted a ban: %v", v.BannedUntil)
	}
	must(t, s.BanNetwork(ctx, "10.0.0.0/24", later, "liar"))
	must(t, s.BanNetwork(ctx, "10.0.0.0/24", now.Add(time.Minute), "again"))
	must(t, s.BanNetwork(ctx, "10.0.1.0/24", now.Add(-time.Minute), "expired"))
	bans, err := s.NetworkBans(ctx)
	must(t, err)
	if len(bans) != 1 || !bans["10.0.0.0/24"].Equal(later) {
		t.Errorf("NetworkBans = %v, want only 10.0.0.0/24 until %v", bans, later)
	}
}

func testPortalMeta(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	d1, _ := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "1"}, recording())
	d2, _ := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "2"}, recording())
	must(t, s.SetDatasetMeta(ctx, d1.ID, store.DatasetMeta{Format: "csv", Template: "t", SizeBytes: 5}))
	must(t, s.SetDatasetMeta(ctx, d1.ID, store.DatasetMeta{Format: "wfdb", Template: "mitdb", SizeBytes: 1 << 33}))
	m, err := s.DatasetMetas(ctx, []int64{d1.ID, d2.ID, 9999})
	must(t, err)
	if len(m) != 1 || m[d1.ID] != (store.DatasetMeta{Format: "wfdb", Template: "mitdb", SizeBytes: 1 << 33}) {
		t.Errorf("DatasetMetas = %+v", m)
	}
	if m, err := s.DatasetMetas(ctx, nil); err != nil || m == nil || len(m) != 0 {
		t.Errorf("DatasetMetas(nil) = %#v %v", m, err)
	}
	var many []int64
	for i := range 1200 {
		many = append(many, int64(i+1000))
	}
	if m, err := s.DatasetMetas(ctx, append(many, d1.ID)); err != nil || len(m) != 1 {
		t.Errorf("DatasetMetas of 1201 ids: %d %v", len(m), err)
	}
	a := newAnalysis(t, h, u.ID, d1.ID, store.StatusQueued, 0)
	b := newAnalysis(t, h, u.ID, d2.ID, store.StatusQueued, 0)
	c := newAnalysis(t, h, u.ID, d2.ID, store.StatusQueued, 0)
	must(t, s.SetBatch(ctx, a.ID, []int64{a.ID, b.ID}))
	must(t, s.SetBatch(ctx, c.ID, []int64{c.ID}))
	bs, err := s.Batches(ctx, append(many, a.ID, b.ID, c.ID))
	must(t, err)
	if len(bs) != 3 || bs[a.ID] != a.ID || bs[b.ID] != a.ID || bs[c.ID] != c.ID {
		t.Errorf("Batches = %v", bs)
	}
	as, err := s.BatchAnalyses(ctx, a.ID)
	must(t, err)
	if len(as) != 2 || as[0].ID != a.ID || as[1].ID != b.ID {
		t.Errorf("BatchAnalyses = %+v, want [a b] in the order started", as)
	}
	if as, err := s.BatchAnalyses(ctx, 9999); err != nil || len(as) != 0 {
		t.Errorf("BatchAnalyses(unknown) = %+v %v", as, err)
	}
}

func testIngestTemplates(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	b, err := s.SaveIngestTemplate(ctx, store.IngestTemplate{Name: "beta", JSON: `{"b":1}`})
	must(t, err)
	a, err := s.SaveIngestTemplate(ctx, store.IngestTemplate{Name: "Alpha", JSON: `{"a":1}`})
	must(t, err)
	if a.ID == 0 || a.ID == b.ID || a.UpdatedAt.IsZero() {
		t.Errorf("saved template %+v", a)
	}
	if _, err := s.SaveIngestTemplate(ctx, store.IngestTemplate{Name: "beta", JSON: `{}`}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second template named beta: %v, want ErrConflict", err)
	}
	a.Name = "beta"
	if _, err := s.SaveIngestTemplate(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("renaming to a taken name: %v, want ErrConflict", err)
	}
	a.Name, a.JSON = "alpha2", `{"a":2}`
	_, err = s.SaveIngestTemplate(ctx, a)
	must(t, err)
	if _, err := s.SaveIngestTemplate(ctx, store.IngestTemplate{ID: 9999, Name: "x", JSON: `{}`}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("updating a missing template: %v, want ErrNotFound", err)
	}
	if got, err := s.IngestTemplate(ctx, a.ID); err != nil || got.Name != "alpha2" || got.JSON != `{"a":2}` {
		t.Errorf("IngestTemplate = %+v %v", got, err)
	}
	if got, err := s.IngestTemplateByName(ctx, "beta"); err != nil || got.ID != b.ID {
		t.Errorf("IngestTemplateByName = %+v %v", got, err)
	}
	_, err = s.IngestTemplate(ctx, 9999)
	wantNotFound(t, "IngestTemplate(9999)", err)
	_, err = s.IngestTemplateByName(ctx, "Beta")
	wantNotFound(t, "IngestTemplateByName is exact", err)
	s.SaveIngestTemplate(ctx, store.IngestTemplate{Name: "Zeta", JSON: `{}`})
	ts, err := s.IngestTemplates(ctx)
	must(t, err)
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	if !slices.Equal(names, []string{"Zeta", "alpha2", "beta"}) {
		t.Errorf("IngestTemplates = %v, want by name, bytewise", names)
	}
}

func testAudit(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u, _ := s.CreateUser(ctx, store.User{Email: "alice@x.org", Role: store.RoleAdmin, PasswordHash: "h"})
	day := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	entries := []store.AuditEntry{
		{At: day, UserID: u.ID, Action: "login", Object: "user/1", Address: "10.0.0.1"},
		{At: day.Add(time.Hour), Actor: "mallory@x.org", Action: "login.failed", Object: "user/?", Outcome: store.OutcomeFailed, Address: "10.0.0.9"},
		{At: day.Add(24 * time.Hour), Actor: "cli:root", Action: "user.disable", Object: "user/1", Address: "local", Detail: "100%_done"},
		{At: day.Add(48 * time.Hour), UserID: u.ID, Action: "dataset.view", Object: "dataset/3"},
	}
	for _, e := range entries {
		must(t, s.Audit(store.WithAuditAddress(ctx, "127.0.0.7"), e))
	}
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []string // actions, newest first
	}{
		{"All", store.AuditFilter{}, []string{"dataset.view", "user.disable", "login.failed", "login"}},
		{"ActorEmail", store.AuditFilter{Actor: "alice"}, []string{"dataset.view", "login"}},
		{"ActorEmailOtherCase", store.AuditFilter{Actor: "ALICE"}, []string{"dataset.view", "login"}},
		{"ActorCLI", store.AuditFilter{Actor: "cli:"}, []string{"user.disable"}},
		{"ActionExact", store.AuditFilter{Action: "login"}, []string{"login"}},
		{"ActionPrefix", store.AuditFilter{Action: "login."}, []string{"login.failed"}},
		{"DateRange", store.AuditFilter{From: day.Add(time.Minute), To: day.Add(25 * time.Hour)}, []string{"user.disable", "login.failed"}},
		{"QueryAddress", store.AuditFilter{Query: "10.0.0.9"}, []string{"login.failed"}},
		{"QueryWildcardsAreLiteral", store.AuditFilter{Query: "0%_d"}, []string{"user.disable"}},
		{"QueryPercentAlone", store.AuditFilter{Query: "%"}, []string{"user.disable"}},
		{"Combined", store.AuditFilter{Actor: "alice", From: day.Add(time.Hour)}, []string{"dataset.view"}},
		{"LimitOffset", store.AuditFilter{Limit: 2, Offset: 1}, []string{"user.disable", "login.failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.AuditFind(ctx, tc.f)
			must(t, err)
			var actions []string
			for _, e := range got {
				actions = append(actions, e.Action)
			}
			if !slices.Equal(actions, tc.want) {
				t.Errorf("got %v, want %v", actions, tc.want)
			}
		})
	}
	got, _ := s.AuditFind(ctx, store.AuditFilter{Action: "dataset.view"})
	if len(got) != 1 || got[0].Address != "127.0.0.7" || got[0].Outcome != store.OutcomeOK || got[0].Email != "alice@x.org" || !got[0].At.Equal(day.Add(48*time.Hour)) || got[0].ID == 0 {
		t.Errorf("address from the context, default outcome, email: %+v", got)
	}
	got, _ = s.AuditFind(ctx, store.AuditFilter{Action: "login.failed"})
	if len(got) != 1 || got[0].Address != "10.0.0.9" || got[0].Outcome != store.OutcomeFailed || got[0].Actor != "mallory@x.org" || got[0].Email != "" || got[0].UserID != 0 {
		t.Errorf("explicit address, outcome and actor: %+v", got)
	}
	if got, _ := s.AuditSearch(ctx, "user/1", 1, 1); len(got) != 1 || got[0].Action != "login" {
		t.Errorf("AuditSearch with offset: %+v", got)
	}
	log, err := s.AuditLog(ctx, 3)
	must(t, err)
	if len(log) != 3 || log[0].Action != "dataset.view" || log[2].Action != "login.failed" || log[0].UserID != u.ID {
		t.Errorf("AuditLog(3) = %+v", log)
	}
	// Written even when the request was cancelled.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	must(t, s.Audit(cctx, store.AuditEntry{Action: "analysis.export", Object: "analysis/1"}))
	if log, _ := s.AuditLog(ctx, 1); len(log) != 1 || log[0].Action != "analysis.export" || log[0].At.IsZero() {
		t.Errorf("an entry written with a cancelled context: %+v", log)
	}
}

// testSessions: the portal's sessions are kept in the database: found
// after a restart, gone once deleted or expired.
func testSessions(t *testing.T, h *harness) {
	st := h.s.Sessions()
	if st == nil {
		t.Fatal("no session store")
	}
	must(t, st.Commit("tok-a", []byte("data-a"), time.Now().Add(time.Hour)))
	must(t, st.Commit("tok-a", []byte("data-a2"), time.Now().Add(time.Hour)))
	must(t, st.Commit("tok-old", []byte("x"), time.Now().Add(-time.Second)))
	h.restart()
	st = h.s.Sessions()
	b, ok, err := st.Find("tok-a")
	if err != nil || !ok || string(b) != "data-a2" {
		t.Errorf("Find after a restart: %q %v %v", b, ok, err)
	}
	if _, ok, err := st.Find("tok-old"); err != nil || ok {
		t.Errorf("an expired session was found: %v %v", ok, err)
	}
	if _, ok, _ := st.Find("tok-none"); ok {
		t.Error("an unknown session was found")
	}
	must(t, st.Delete("tok-a"))
	if _, ok, _ := st.Find("tok-a"); ok {
		t.Error("a deleted session was found")
	}
}

// testThrottles: counters accumulate, drain at their leak, start again once
// expired, are shared by two stores on one database (two server replicas)
// without losing a concurrent add, and pruning deletes only expired ones.
func testThrottles(t *testing.T, h *harness) {
	ctx := h.ctx
	t0 := time.UnixMilli(1_800_000_000_000)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	add := func(s store.Store, key string, n, leak float64, ttl, when time.Duration) store.Throttle {
		t.Helper()
		th, err := s.AddThrottle(ctx, key, n, leak, ttl, at(when))
		must(t, err)
		return th
	}
	get := func(when time.Duration, keys ...string) map[string]store.Throttle {
		t.Helper()
		m, err := h.s.Throttles(ctx, at(when), keys...)
		must(t, err)
		return m
	}
	if m := get(0, "a"); len(m) != 0 {
		t.Fatalf("an empty store has counters: %v", m)
	}
	add(h.s, "a", 1, 0, time.Hour, 0)
	if th := add(h.s, "a", 1, 0, time.Hour, time.Second); th.N != 2 || !th.Last.Equal(at(time.Second)) || !th.Expires.Equal(at(time.Hour+time.Second)) {
		t.Fatalf("second add: %+v, want 2 at t0+1s expiring t0+1h1s", th)
	}
	if m := get(2*time.Second, "a", "b"); len(m) != 1 || m["a"].N != 2 {
		t.Fatalf("Throttles: %v, want a=2 only", m)
	}
	// Draining at 0.5 a second: 5 - 2 + 1 after 4 s; never below 0.
	add(h.s, "b", 5, 0.5, time.Hour, 0)
	if th := add(h.s, "b", 1, 0.5, time.Hour, 4*time.Second); th.N != 4 {
		t.Fatalf("leaky add after 4 s: %v, want 4", th.N)
	}
	th := add(h.s, "b", 1, 0.5, time.Hour, 30*time.Second)
	if th.N != 1 {
		t.Fatalf("leaky add after it drained: %v, want 1", th.N)
	}
	if l := th.Level(0.5, at(31*time.Second)); l != 0.5 {
		t.Fatalf("Level a second later: %v, want 0.5", l)
	}
	// Expired: absent, and an add starts from 0 with a new expiry.
	if m := get(time.Hour+time.Second, "a"); len(m) != 0 {
		t.Fatalf("a counter read at its expiry: %v, want absent", m)
	}
	if th := add(h.s, "a", 1, 0, time.Minute, 2*time.Hour); th.N != 1 || !th.Expires.Equal(at(2*time.Hour+time.Minute)) {
		t.Fatalf("add to an expired counter: %+v, want 1 expiring t0+2h1m", th)
	}
	// A shorter ttl does not shorten a longer expiry.
	if th := add(h.s, "b", 1, 0, time.Second, 31*time.Second); !th.Expires.Equal(at(30*time.Second + time.Hour)) {
		t.Fatalf("expiry after a short ttl: %v, want t0+1h30s", th.Expires)
	}
	must(t, h.s.DeleteThrottle(ctx, "a"))
	must(t, h.s.DeleteThrottle(ctx, "nothing"))
	if m := get(2*time.Hour, "a"); len(m) != 0 {
		t.Fatalf("a deleted counter: %v", m)
	}

	// Two replicas on one database adding at once lose nothing.
	other := h.open()
	var wg sync.WaitGroup
	for i := range 40 {
		s := h.s
		if i%2 == 1 {
			s = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AddThrottle(ctx, "c", 1, 0, time.Hour, at(time.Minute)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m, err := other.Throttles(ctx, at(time.Minute), "c"); err != nil || m["c"].N != 40 {
		t.Fatalf("40 concurrent adds from two stores: %v %v, want 40", m, err)
	}

	// Pruning deletes what expired by then and nothing else.
	add(h.s, "d", 1, 0, 10*time.Hour, 0)
	n, err := h.s.PruneThrottles(ctx, at(3*time.Hour))
	must(t, err)
	if n != 2 { // b (expired t0+1h30s) and c (t0+1h1m); a was deleted
		t.Fatalf("PruneThrottles deleted %d counters, want 2 (b, c)", n)
	}
	if m := get(3*time.Hour, "d"); m["d"].N != 1 {
		t.Fatalf("pruning deleted a live counter: %v", m)
	}
	if n, _ := h.s.PruneThrottles(ctx, at(3*time.Hour)); n != 0 {
		t.Fatalf("a second prune deleted %d", n)
	}
}

// testCorrections: corrections are appended and listed oldest first with
// every field, survive a restart, are per analysis, need an existing
// analysis, go with their analysis, and leave the verified result as it is.
func testCorrections(t *testing.T, h *harness) {
	ctx, s := h.ctx, h.s
	u := h.user("a@x.org")
	ds, err := s.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "n"}, recording())
	must(t, err)
	a := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	b := newAnalysis(t, h, u.ID, ds.ID, store.StatusRunning, 1)
	must(t, s.ApplyGridWrites(ctx, []store.GridWrite{{Verify: &store.ChunkOutput{AnalysisID: a.ID, Index: 0, Digest: "d", Output: []byte{1}, Replicas: 2}}}))
	must(t, s.FinishAnalysis(ctx, a.ID, []byte(`{"verified":true}`), "", false, []string{"d"}))
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	want := []store.Correction{
		{AnalysisID: a.ID, Target: store.CorrectBeat, Sample: 1234, From: "V", To: "N", UserID: u.ID, CreatedAt: at},
		{AnalysisID: a.ID, Target: store.CorrectEvent, Sample: 99, EventKind: "pause", From: "shown", To: "dismissed", UserID: u.ID, CreatedAt: at.Add(time.Second)},
		{AnalysisID: a.ID, Target: store.CorrectBeat, Sample: 1234, From: "N", To: "S", UserID: u.ID, CreatedAt: at.Add(2 * time.Second)},
	}
	for i := range want {
		c, err := s.AddCorrection(ctx, want[i])
		must(t, err)
		if c.ID == 0 || (i > 0 && c.ID <= want[i-1].ID) {
			t.Fatalf("correction %d: id %d after %d", i, c.ID, want[max(i-1, 0)].ID)
		}
		want[i].ID = c.ID
	}
	if _, err := s.AddCorrection(ctx, store.Correction{AnalysisID: b.ID, Target: store.CorrectBeat, Sample: 1, From: "N", To: "V", UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	h.restart()
	s = h.s
	got, err := s.Corrections(ctx, a.ID)
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("%d corrections, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].CreatedAt.Equal(want[i].CreatedAt) {
			t.Errorf("correction %d at %v, want %v", i, got[i].CreatedAt, want[i].CreatedAt)
		}
		got[i].CreatedAt = want[i].CreatedAt
		if got[i] != want[i] {
			t.Errorf("correction %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if res, err := s.AnalysisResult(ctx, a.ID); err != nil || string(res) != `{"verified":true}` {
		t.Errorf("verified result after corrections: %s, %v", res, err)
	}
	_, err = s.AddCorrection(ctx, store.Correction{AnalysisID: 987654, Target: store.CorrectBeat, To: "N"})
	wantNotFound(t, "AddCorrection of a missing analysis", err)
	must(t, s.DeleteAnalysis(ctx, a.ID))
	if got, err := s.Corrections(ctx, a.ID); err != nil || len(got) != 0 {
		t.Errorf("after DeleteAnalysis: %d corrections, %v", len(got), err)
	}
	if got, _ := s.Corrections(ctx, b.ID); len(got) != 1 {
		t.Errorf("the other analysis has %d corrections, want 1", len(got))
	}
}

// testGridHistory: the grid's minutes come back oldest first after a
// restart; saving a minute again replaces it; the table keeps one row per
// slot, so 90 minutes saved leave the last 60, and an older minute never
// overwrites a newer one in its slot.
func testGridHistory(t *testing.T, h *harness) {
	ctx := h.ctx
	t0 := time.UnixMilli(1_800_000_000_000).Truncate(time.Minute)
	minute := func(i, v int) store.GridMinute {
		return store.GridMinute{Start: t0.Add(time.Duration(i) * time.Minute), Verified: v, Failed: i % 3, Volunteers: i + 1, Leases: 2 * i, Unverified: 100 - i}
	}
	if ms, err := h.s.GridHistory(ctx, t0.Add(-time.Hour)); err != nil || len(ms) != 0 {
		t.Fatalf("empty store: got %v, %v", ms, err)
	}
	var ms []store.GridMinute
	for i := 0; i < 90; i++ {
		ms = append(ms, minute(i, i*10))
	}
	must(t, h.s.SaveGridHistory(ctx, ms[:45]))
	must(t, h.s.SaveGridHistory(ctx, ms[45:]))
	must(t, h.s.SaveGridHistory(ctx, []store.GridMinute{minute(89, 7)})) // the current minute again, as it grows
	must(t, h.s.SaveGridHistory(ctx, []store.GridMinute{minute(20, 1)})) // slot 20 holds minute 80 now: kept
	h.restart()
	got, err := h.s.GridHistory(ctx, t0)
	must(t, err)
	want := append([]store.GridMinute(nil), ms[30:]...)
	want[len(want)-1] = minute(89, 7)
	if len(got) != len(want) {
		t.Fatalf("got %d minutes, want %d (the last 60 saved)", len(got), len(want))
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || got[i].Verified != want[i].Verified || got[i].Failed != want[i].Failed ||
			got[i].Volunteers != want[i].Volunteers || got[i].Leases != want[i].Leases || got[i].Unverified != want[i].Unverified {
			t.Fatalf("minute %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	since, err := h.s.GridHistory(ctx, t0.Add(85*time.Minute))
	must(t, err)
	if len(since) != 5 || !since[0].Start.Equal(t0.Add(85*time.Minute)) {
		t.Errorf("since minute 85: got %d minutes from %v, want 5 from minute 85", len(since), since)
	}
}
