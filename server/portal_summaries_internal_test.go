package server

import (
	"context"
	"math"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestLongChannelFiguresFromSummaries: the dataset page's figures and
// preview and the vitals trend of a long channel, drawn from the stored
// summaries, agree with the samples themselves.
func TestLongChannelFiguresFromSummaries(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, store.User{Email: "c@x.org", Role: store.RoleClinician, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	// 5 hours of arterial pressure at 125 Hz with a two-minute gap.
	n := 5 * 3600 * 125
	samples := make([]float64, n)
	for i := range samples {
		samples[i] = float64(80+(i*37)%60) + float64(i)/float64(n)*20
		if i >= 1_000_000 && i < 1_015_000 {
			samples[i] = math.NaN()
		}
	}
	ch := signal.Channel{Name: "ABP", Unit: "mmHg", Rate: 125, Samples: samples}
	ds, err := st.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "abp"}, &signal.Recording{Signal: signal.Signal{Channels: []signal.Channel{ch}}})
	if err != nil {
		t.Fatal(err)
	}
	p := &portal{d: Deps{Store: st}}
	r := httptest.NewRequest("GET", "/", nil)

	ci, err := p.channelInfo(r, ds.ID, 0, ds.Channels[0])
	if err != nil {
		t.Fatal(err)
	}
	mn, mx := math.Inf(1), math.Inf(-1)
	for _, v := range samples {
		if v == v {
			mn, mx = math.Min(mn, v), math.Max(mx, v)
		}
	}
	if ci.Min != mn || ci.Max != mx || ci.Missing != 15_000 || ci.Samples != int64(n) {
		t.Errorf("figures: min %v max %v missing %d samples %d; want %v %v 15000 %d", ci.Min, ci.Max, ci.Missing, ci.Samples, mn, mx, n)
	}
	if len(ci.Preview) != previewPoints {
		t.Errorf("preview has %d points, want %d", len(ci.Preview), previewPoints)
	}
	for _, v := range ci.Preview {
		if v == v && (v < mn || v > mx) {
			t.Fatalf("preview point %v outside the channel's range", v)
		}
	}

	tr, err := p.trend(r, ds.ID, 0, ds.Channels[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Samples) == 0 || len(tr.Samples) > trendPoints {
		t.Fatalf("trend of %d points, want 1..%d", len(tr.Samples), trendPoints)
	}
	per := int(math.Round(tr.Step * ch.Rate))
	if per%store.SummaryBlock != 0 {
		t.Fatalf("trend step of %d samples is not whole summary blocks", per)
	}
	for b, got := range tr.Samples {
		var sum float64
		k := 0
		for _, v := range samples[b*per : min((b+1)*per, n)] {
			if v == v {
				sum += v
				k++
			}
		}
		want := sum / float64(k)
		if math.Abs(got-want) > 1e-9*math.Abs(want) {
			t.Fatalf("trend point %d: %v, want the bucket mean %v", b, got, want)
		}
	}
}
