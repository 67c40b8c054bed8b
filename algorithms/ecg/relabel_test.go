package ecg

import (
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// TestRelabel checks that Relabel without corrections recomputes exactly
// what Merge found (so a corrected report differs from the verified one
// only by the corrections), that a relabelled V beat moves the counts and
// the events, that a dismissed event is gone with its count, and that the
// result relabelled is left as it was.
func TestRelabel(t *testing.T) {
	rec := mustReadRecord(t, "mitdb", "119")
	res, _, _ := runClassify(t, &rec.Sig, `{}`, pipeline.SplitOptions{})
	want := jsonDigest(t, res)
	if got := jsonDigest(t, res.Relabel(nil, nil)); got != want {
		t.Fatal("Relabel without corrections differs from the merged result")
	}
	v := -1
	for i, b := range res.Beats {
		if b.Class == ClassV {
			v = i
			break
		}
	}
	if v < 0 || len(res.Events) == 0 {
		t.Fatalf("119 has %d V beats and %d events", res.Classes.V, len(res.Events))
	}
	got := res.Relabel(map[int]Class{v: ClassN}, nil)
	if got.Classes.V != res.Classes.V-1 || got.Classes.N != res.Classes.N+1 || got.Beats[v].Class != ClassN {
		t.Errorf("relabelled V→N: classes %+v, was %+v", got.Classes, res.Classes)
	}
	if jsonDigest(t, res) != want || res.Beats[v].Class != ClassV {
		t.Fatal("Relabel changed the result it was given")
	}
	e := res.Events[0]
	got = res.Relabel(nil, map[EventKey]bool{{e.Kind, e.Start}: true})
	if len(got.Events) != len(res.Events)-1 || got.Events[0] == e {
		t.Errorf("dismissed %v: %d events, was %d", e, len(got.Events), len(res.Events))
	}
	count := func(rh Rhythm) int {
		for _, c := range rh.Counts {
			if c.Kind == e.Kind {
				return c.Count
			}
		}
		return -1
	}
	if count(got.Rhythm) != count(res.Rhythm)-1 {
		t.Errorf("dismissed %s: count %d, was %d", e.Kind, count(got.Rhythm), count(res.Rhythm))
	}
}

// TestWithRVRGroupsAsMerge checks that the grouping a Holter report
// applies to an ecg.classify@1 result (WithRVR) is exactly what a Merge
// that folds the tachycardia inside AF computes from the same beats, and
// that an ecg.classify@2 result is already grouped, on every DS1 record
// (ec57Records).
func TestWithRVRGroupsAsMerge(t *testing.T) {
	p := DefaultClassifyParams()
	cs1, cs2 := mustClassCasesFor(t, ec57Records()), mustClassCases2For(t, ec57Records())
	folded := 0
	for _, name := range ec57Records() {
		mb := cs1[name].mb
		res := classifyBeats(p, mb, false)
		res.Algorithm = ClassifyName
		tu := defaultTuning
		tu.rvr = true
		want := classifyWith(p, mb, newBeatFacts(mb), tu)
		want.Algorithm = ClassifyName
		if got := res.WithRVR(); jsonDigest(t, got) != jsonDigest(t, want) {
			t.Errorf("%s: the report's grouping of @1 events differs from Merge's:\n%+v\nwant\n%+v", name, got.Events, want.Events)
		}
		for _, e := range want.Events {
			if e.Kind == EventAF && e.RVRSeconds > 0 {
				folded++
			}
		}
		res2 := classifyBeats(p, cs2[name].mb, true)
		res2.Algorithm = Classify2Name
		if jsonDigest(t, res2.WithRVR()) != jsonDigest(t, res2) {
			t.Errorf("%s: an @2 result grouped again changes", name)
		}
	}
	// Under js/wasm ec57Records is three records without a fast AF
	// episode; the native run needs one.
	if folded == 0 && !underWasm {
		t.Error("no DS1 record has an AF episode with tachycardia folded in: the test checks nothing")
	}
}
