package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Corrections of a Holter report (issue 13): a clinician relabels a beat's
// EC57 class or dismisses (or shows again) an event. Each is a row of
// store.CorrectionStore, audited; the report, its strip and its FHIR form
// are recomputed from the verified result and the rows in force
// (ecg.ClassifyResult.Relabel), and say that they are corrected. The
// verified result is never written.

// Event correction values.
const (
	eventShown     = "shown"
	eventDismissed = "dismissed"
)

// holterCorrection is a correction as the report lists it.
type holterCorrection struct {
	store.Correction
	Time float64 `json:"time_s"` // of the beat, or of the event's first beat
	By   string  `json:"by"`     // the email of who made it
}

// correctionRequest is the body of POST /api/v1/analyses/{id}/corrections.
type correctionRequest struct {
	Target string `json:"target"` // "beat" or "event"
	// A beat: its sample, or a time (s) within 150 ms of it; the new class.
	Sample *int64   `json:"sample"`
	Time   *float64 `json:"time_s"`
	Class  string   `json:"class"`
	// A family: its index in the report's families; the new class.
	Family *int `json:"family"`
	// An event: its kind and first beat's sample; dismiss (true) or show
	// again (false).
	Kind    string `json:"kind"`
	Start   int64  `json:"start"`
	Dismiss *bool  `json:"dismiss"`
}

// applyCorrections returns res with the corrections in force applied, in
// the order they were made: the latest row of each beat and event wins,
// and a family row sets every beat of the family (a later beat row
// overrides it for its beat).
func applyCorrections(res *ecg.ClassifyResult, cs []store.Correction) *ecg.ClassifyResult {
	if len(cs) == 0 {
		return res
	}
	classes := map[int]ecg.Class{}
	dismissed := map[ecg.EventKey]bool{}
	var families map[int][]int
	for _, c := range cs {
		switch c.Target {
		case store.CorrectFamily:
			if families == nil {
				families = familyBeats(res)
			}
			var k ecg.Class
			if k.UnmarshalJSON([]byte(strconv.Quote(c.To))) == nil {
				for _, i := range families[int(c.Sample)] {
					classes[i] = k
				}
			}
		case store.CorrectBeat:
			i, ok := beatAt(res, c.Sample)
			var k ecg.Class
			if ok && k.UnmarshalJSON([]byte(strconv.Quote(c.To))) == nil {
				classes[i] = k
			}
		case store.CorrectEvent:
			dismissed[ecg.EventKey{Kind: c.EventKind, Start: c.Sample}] = c.To == eventDismissed
		}
	}
	return res.Relabel(classes, dismissed)
}

// reportResult is res as the report shows it: the corrections cs applied
// and the tachycardia inside atrial fibrillation grouped into the AF
// episodes as their rapid ventricular response (ecg.ClassifyResult.WithRVR;
// ecg.classify@2's Merge does so itself, and an @1 result's JSON stays as
// verified).
func reportResult(res *ecg.ClassifyResult, cs []store.Correction) *ecg.ClassifyResult {
	return applyCorrections(res, cs).WithRVR()
}

// beatAt finds the beat at a sample.
func beatAt(res *ecg.ClassifyResult, sample int64) (int, bool) {
	return slices.BinarySearchFunc(res.Beats, sample, func(b ecg.ClassifiedBeat, s int64) int {
		switch {
		case b.Sample < s:
			return -1
		case b.Sample > s:
			return 1
		}
		return 0
	})
}

// correctedClassify returns the result as the report shows it
// (reportResult) and the corrections as the report lists them.
func correctedClassify(ctx context.Context, d Deps, a store.Analysis, res *ecg.ClassifyResult) (*ecg.ClassifyResult, []holterCorrection, error) {
	cs, err := d.Store.Corrections(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	out := make([]holterCorrection, 0, len(cs))
	emails := map[int64]string{}
	for _, c := range cs {
		if _, ok := emails[c.UserID]; !ok {
			if u, err := d.Store.User(ctx, c.UserID); err == nil {
				emails[c.UserID] = u.Email
			}
		}
		t := float64(c.Sample) / res.Rate
		if c.Target == store.CorrectFamily {
			t = 0
			if i := int(c.Sample); i >= 0 && i < len(res.Families) {
				t = float64(res.Families[i].Example) / res.Rate
			}
		}
		out = append(out, holterCorrection{Correction: c, Time: t, By: emails[c.UserID]})
	}
	return reportResult(res, cs), out, nil
}

// dismissedEvents lists the events of the verified result's classes that a
// correction in force dismissed, so the page can show them again.
func dismissedEvents(cs []holterCorrection) []ecg.EventKey {
	last := map[ecg.EventKey]string{}
	var order []ecg.EventKey
	for _, c := range cs {
		if c.Target != store.CorrectEvent {
			continue
		}
		k := ecg.EventKey{Kind: c.EventKind, Start: c.Sample}
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		last[k] = c.To
	}
	var out []ecg.EventKey
	for _, k := range order {
		if last[k] == eventDismissed {
			out = append(out, k)
		}
	}
	return out
}

// addCorrection validates a request against the analysis's result as
// corrected so far and stores it.
func addCorrection(ctx context.Context, d Deps, a store.Analysis, user store.User, req correctionRequest) (store.Correction, error) {
	if a.Status != store.StatusDone {
		return store.Correction{}, Errorf(EConflict, "analysis %d is %s: corrections are of a finished report", a.ID, a.Status)
	}
	res, err := decodedResult(ctx, d, a)
	if err != nil {
		return store.Correction{}, err
	}
	verified, ok := classifyOf(res)
	if !ok {
		return store.Correction{}, Errorf(ENotFound, "analysis %d is %s: only %s and %s reports take corrections", a.ID, a.Algorithm, ecg.ClassifyName, ecg.Classify2Name)
	}
	cur, _, err := correctedClassify(ctx, d, a, verified)
	if err != nil {
		return store.Correction{}, err
	}
	c := store.Correction{AnalysisID: a.ID, Target: req.Target, UserID: user.ID}
	var k ecg.Class
	if req.Target == store.CorrectBeat || req.Target == store.CorrectFamily {
		if err := k.UnmarshalJSON([]byte(strconv.Quote(strings.ToUpper(req.Class)))); err != nil || req.Class == "" {
			return c, Errorf(EInvalid, "class %q: want one of the EC57 classes N, S, V, F, Q", req.Class)
		}
	}
	switch req.Target {
	case store.CorrectFamily:
		if err := familyCorrection(verified, cur, &c, req.Family, k); err != nil {
			return c, err
		}
	case store.CorrectBeat:
		i := -1
		switch {
		case req.Sample != nil:
			if j, ok := beatAt(cur, *req.Sample); ok {
				i = j
			}
		case req.Time != nil:
			i = nearestBeat(cur, *req.Time)
		default:
			return c, Errorf(EInvalid, "a beat correction names the beat by \"sample\" or \"time_s\"")
		}
		if i < 0 {
			return c, Errorf(EInvalid, "no beat there: give a detected beat's sample, or a time within 150 ms of one")
		}
		c.Sample, c.From, c.To = cur.Beats[i].Sample, cur.Beats[i].Class.String(), k.String()
		if c.From == c.To {
			return c, Errorf(EInvalid, "the beat at %s is already %s", clockOf(cur.Beats[i].Time), c.To)
		}
	case store.CorrectEvent:
		if req.Dismiss == nil {
			return c, Errorf(EInvalid, "an event correction says \"dismiss\": true or false")
		}
		key := ecg.EventKey{Kind: req.Kind, Start: req.Start}
		shown := slices.ContainsFunc(cur.Events, func(e ecg.Event) bool { return e.Kind == key.Kind && e.Start == key.Start })
		// An event dismissed earlier is found in the result without the
		// event corrections.
		base := applyCorrections(verified, beatRows(ctx, d, a.ID))
		exists := slices.ContainsFunc(base.Events, func(e ecg.Event) bool { return e.Kind == key.Kind && e.Start == key.Start })
		if !exists {
			return c, Errorf(EInvalid, "no %q event starts at sample %d", req.Kind, req.Start)
		}
		c.EventKind, c.Sample = req.Kind, req.Start
		c.From, c.To = eventDismissed, eventShown
		if shown {
			c.From = eventShown
		}
		if *req.Dismiss {
			c.To = eventDismissed
		}
		if c.From == c.To {
			return c, Errorf(EInvalid, "the %s event at sample %d is already %s", req.Kind, req.Start, c.To)
		}
	default:
		return c, Errorf(EInvalid, "target %q: want \"beat\", \"family\" or \"event\"", req.Target)
	}
	return d.Store.AddCorrection(ctx, c)
}

// beatRows are the beat corrections of an analysis (errors leave none).
func beatRows(ctx context.Context, d Deps, id int64) []store.Correction {
	cs, _ := d.Store.Corrections(ctx, id)
	return slices.DeleteFunc(cs, func(c store.Correction) bool { return c.Target != store.CorrectBeat })
}

// nearestBeat is the beat within 150 ms of t, or −1.
func nearestBeat(res *ecg.ClassifyResult, t float64) int {
	i, _ := slices.BinarySearchFunc(res.Beats, t, func(b ecg.ClassifiedBeat, t float64) int {
		if b.Time < t {
			return -1
		}
		return 1
	})
	best := -1
	for _, j := range []int{i - 1, i} {
		if j >= 0 && j < len(res.Beats) && math.Abs(res.Beats[j].Time-t) <= 0.15 && (best < 0 || math.Abs(res.Beats[j].Time-t) < math.Abs(res.Beats[best].Time-t)) {
			best = j
		}
	}
	return best
}

// correctionDetail is the audit detail of a stored correction: what and
// from -> to (who and when are the entry's own).
func correctionDetail(c store.Correction) string {
	what := fmt.Sprintf("beat at sample %d", c.Sample)
	switch c.Target {
	case store.CorrectEvent:
		what = fmt.Sprintf("%s event at sample %d", c.EventKind, c.Sample)
	case store.CorrectFamily:
		what = fmt.Sprintf("beat family %d", c.Sample)
	}
	return fmt.Sprintf("correction %d: %s %s -> %s", c.ID, what, c.From, c.To)
}

// handleCorrectionList is GET /api/v1/analyses/{id}/corrections.
func handleCorrectionList(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := ownAnalysis(d, r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		res, err := classifyResultOf(r.Context(), d, a)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		_, list, err := correctedClassify(r.Context(), d, a, res)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, list)
	})
}

// handleCorrectionCreate is POST /api/v1/analyses/{id}/corrections.
func handleCorrectionCreate(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		var req correctionRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, r, d.Logger, Errorf(EInvalid, "request body: %v; want {\"target\": \"beat\", \"sample\": N, \"class\": \"V\"} or {\"target\": \"event\", \"kind\": \"pause\", \"start\": N, \"dismiss\": true}", err))
			return
		}
		c, err := useCases(d).CorrectReport(r.Context(), id, req)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		writeJSON(w, http.StatusCreated, c)
	})
}

// handleHolterCorrect is POST /analyses/{id}/report/corrections, the
// report page's forms: target=beat with at=HH:MM:SS[.sss] and class,
// target=family with family and class, or target=event with kind, start
// and action=dismiss|show.
func (p *portal) handleHolterCorrect() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		a, err := p.analysis(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		req := correctionRequest{Target: r.FormValue("target"), Class: r.FormValue("class"), Kind: r.FormValue("kind")}
		back := fmt.Sprintf("/analyses/%d/report", a.ID)
		switch req.Target {
		case store.CorrectBeat:
			t, err := parseClock(r.FormValue("at"))
			if err != nil {
				p.fail(w, r, Errorf(EInvalid, "%v", err))
				return
			}
			req.Time = &t
			back += fmt.Sprintf("?from=%.3f&to=%.3f#strip", max(t-5, 0), max(t-5, 0)+10)
		case store.CorrectEvent:
			if req.Start, err = strconv.ParseInt(r.FormValue("start"), 10, 64); err != nil {
				p.fail(w, r, Errorf(EInvalid, "start %q is not a sample number", r.FormValue("start")))
				return
			}
			dismiss := r.FormValue("action") == "dismiss"
			req.Dismiss = &dismiss
			back += "#holter-events-h"
		case store.CorrectFamily:
			f, err := strconv.Atoi(r.FormValue("family"))
			if err != nil {
				p.fail(w, r, Errorf(EInvalid, "family %q is not a family number", r.FormValue("family")))
				return
			}
			req.Family = &f
			back += "#holter-families-h"
		}
		c, err := useCases(p.d).CorrectReport(r.Context(), a.ID, req)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.flash(r, "success", fmt.Sprintf("Corrected: %s → %s. The report is recomputed; the verified result is unchanged.", c.From, c.To))
		redirect(w, r, back)
	})
}
