package views

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/a-h/templ"

	"github.com/pulsegrid/pulsegrid/views/charts"
)

// preview writes every page with sample data as HTML files into a
// directory, to look at the pages in a browser without a server:
//
//	go test ./views -run TestWritePreview -preview /tmp/preview
//	cp -r static /tmp/preview/  # the pages link /static/css/app.css
var preview = flag.String("preview", "", "write sample pages as HTML into this directory")

func TestWritePreview(t *testing.T) {
	if *preview == "" {
		t.Skip("no -preview directory")
	}
	res := sampleResult()
	// A beat-like trace so the strip looks like an ECG.
	s := &res.Beats.Strip
	for i := range s.Samples {
		tt := math.Mod(float64(i)/s.Rate, 0.8)
		s.Samples[i] = 0.1*math.Sin(2*math.Pi*tt/0.8) + 1.2*math.Exp(-(tt-0.3)*(tt-0.3)/0.0004) - 0.2*math.Exp(-(tt-0.33)*(tt-0.33)/0.0004)
	}
	s.Detected, s.Reference = nil, nil
	for b := 0.3; b < 10; b += 0.8 {
		s.Detected = append(s.Detected, charts.Mark{Time: b, Label: "N"})
		if b < 9 {
			s.Reference = append(s.Reference, charts.Mark{Time: b + 0.01, Label: "N"})
		}
	}
	pagesWithNav := map[string]struct {
		title string
		nav   Nav
		c     templ.Component
	}{
		"result":  {"Result #7", Nav{Role: RoleClinician, Email: "c@example.org", Active: "analyses"}, Result(res)},
		"login":   {"Sign in", Nav{}, Login(LoginPage{Error: "Wrong email or password."})},
		"upload":  {"Upload", Nav{Role: RoleClinician, Active: "upload"}, Upload(UploadPage{Templates: []Option{{"default", "Default"}}})},
		"donate":  {"Donate", Nav{Active: "donate"}, Donate(DonatePage{})},
		"dataset": {"Dataset 100", Nav{Role: RoleAdmin, Email: "a@example.org", Flashes: []Flash{{"success", "Uploaded."}}}, DatasetDetail(DatasetPage{ID: 1, Name: "100", Format: "WFDB", DurationSec: 1805, Channels: []ChannelInfo{{Name: "MLII", Unit: "mV", Rate: 360, Samples: 650000, Preview: s.Samples}}})},
		"progress": {"Analysis #9", Nav{Role: RoleClinician}, AnalysisProgress(AnalysisPage{ID: 9, Algorithm: "ecg.beats@1", DatasetName: "100", Status: "running", Priority: "urgent",
			ChunksVerified: 4, ChunksTotal: 11, VolunteersWorking: 2, ETASeconds: 70})},
		"cohort": {"Cohort of batch #1", Nav{Role: RoleClinician}, CohortBatch(cohortPreview(res.Beats.HR))},
	}
	if err := os.MkdirAll(*preview, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, p := range pagesWithNav {
		var buf bytes.Buffer
		if err := Layout(p.title, p.nav, p.c).Render(context.Background(), &buf); err != nil {
			t.Fatal(err)
		}
		out := bytes.ReplaceAll(buf.Bytes(), []byte(`href="/static/`), []byte(`href="static/`))
		if err := os.WriteFile(filepath.Join(*preview, name+".html"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cohortPreview is a batch of three algorithms on two recordings.
func cohortPreview(hr []float64) CohortBatchPage {
	p := sampleCohortBatch()
	recs := slices.Clone(p.Sections[0].Recordings)
	for i := range recs {
		recs[i].HR = hr
	}
	p.Sections[0].Recordings = recs
	return p
}
