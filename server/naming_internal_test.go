package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

func TestIdentityLike(t *testing.T) {
	for _, tc := range []struct {
		stem string
		want string // part of the reason; "" for not flagged
	}{
		{"SMITH_JOHN_MRN12345", "identity word"},
		{"MRN12345", "identity word"},
		{"ID0045321", "record or patient number"},
		{"AB-123456", "record or patient number"},
		{"SMITH_JOHN", "person's name"},
		{"Jane Doe", "person's name"},
		{"doe_jane_1961-04-03", "full date"},
		{"holter_19610403", "full date"},
		{"patient7", "identity word"},
		{"100", ""},
		{"119", ""},
		{"slp01a", ""},
		{"ecg_001", ""},
		{"ECG_LEAD_II", ""},
		{"Holter 24 hours", ""},
		{"night_recording_3", ""},
	} {
		t.Run(tc.stem, func(t *testing.T) {
			got := identityLike(tc.stem)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("identityLike(%q) = %q, want %q", tc.stem, got, tc.want)
			}
		})
	}
}

func TestDatasetName(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := st.CreateUser(ctx, store.User{Email: "c@x.org", Role: store.RoleClinician, PasswordHash: "h"})
	now := time.Now()
	day := now.UTC().Format(time.DateOnly)
	name, warn := datasetName(ctx, st, u.ID, "", "SMITH_JOHN_MRN12345", now)
	if name != "Recording "+day+" #1" || warn == nil || warn.Rule != RuleIdentifyingName || !strings.Contains(warn.Message, "SMITH_JOHN_MRN12345") {
		t.Fatalf("first default name %q, warning %+v", name, warn)
	}
	rec := &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{{Name: "x", Unit: "mV", Rate: 100, Samples: []float64{1, 2}}}}}
	st.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: name}, rec)
	st.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "other"}, rec)
	if name, warn := datasetName(ctx, st, u.ID, "  ", "119", now); name != "Recording "+day+" #3" || warn != nil {
		t.Fatalf("third default name %q, warning %+v", name, warn)
	}
	if name, warn := datasetName(ctx, st, u.ID, "Night study", "DOE_JANE", now); name != "Night study" || warn != nil {
		t.Fatalf("given name: %q, warning %+v", name, warn)
	}
	if name, warn := datasetName(ctx, st, u.ID, "Jane Doe", "119", now); name != "Jane Doe" || warn == nil || !strings.Contains(warn.Message, "Jane Doe") {
		t.Fatalf("identifying given name: %q, warning %+v", name, warn)
	}
}
