package server

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
	"github.com/pulsegrid/pulsegrid/views/charts"
)

// writeHolterPDF answers ?format=pdf of the report: the page's model drawn
// as a PDF (views.HolterPDF), with a strip of the signal at each of the
// events views.StripEvents picks, beats labelled as corrected.
func writeHolterPDF(ctx context.Context, w http.ResponseWriter, d Deps, a store.Analysis, h holter) error {
	page := holterView(h.rep, views.StripView{})
	strips, err := eventStrips(ctx, d, a, h.ds, h.corrected, page.Events)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := views.HolterPDF(&buf, page, strips, time.Now()); err != nil {
		return err
	}
	return writeAttachment(w, exportName(h.ds.Name, a.ID, "-holter.pdf"), "application/pdf", buf.Bytes())
}

// eventStrips reads views.PDFStripSeconds of the classified lead from 2 s
// before each event views.StripEvents picks, with the beats in it labelled
// by class where it is not N.
func eventStrips(ctx context.Context, d Deps, a store.Analysis, ds store.Dataset, res *ecg.ClassifyResult, events []views.HolterEvent) ([]views.EventStrip, error) {
	if res.LeadIndex < 0 || res.LeadIndex >= len(ds.Channels) {
		return nil, Errorf(EConflict, "the result names lead %d, which the dataset does not have", res.LeadIndex)
	}
	ch := ds.Channels[res.LeadIndex]
	dur := float64(ch.Samples) / ch.Rate
	events = views.StripEvents(events)
	out := make([]views.EventStrip, 0, len(events))
	for _, e := range events {
		from := max(0, min(e.Start-2, dur-views.PDFStripSeconds))
		to := min(from+views.PDFStripSeconds, dur)
		s, err := signalWindow(ctx, d, a, ds, res.LeadIndex, from, to, false)
		if err != nil {
			return nil, err
		}
		for _, b := range within(res.Beats, from, to, func(b ecg.ClassifiedBeat) float64 { return b.Time }) {
			m := charts.Mark{Time: b.Time}
			if b.Class != ecg.ClassN {
				m.Label = b.Class.String()
			}
			s.Detected = append(s.Detected, m)
		}
		out = append(out, views.EventStrip{Event: e, Strip: s})
	}
	return out, nil
}
