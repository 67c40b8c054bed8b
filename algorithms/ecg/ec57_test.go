package ecg

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// ds1 is the inter-patient training set (de Chazal et al. 2004): the only
// records the classifier was developed and tuned on.
var ds1 = []string{"101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124",
	"201", "203", "205", "207", "208", "209", "215", "220", "223", "230"}

// classCase is one record prepared for the class rules: the merged beats
// of ecg.classify@1's chunk outputs and the reference annotations.
type classCase struct {
	name string
	mb   *mergedBeats
	ann  []signal.Annotation
}

// classCache is the prepared DS1 records of one classifier version,
// computed once per test binary.
type classCache struct {
	once  sync.Once
	cases map[string]*classCase
}

var (
	cases1, cases2 classCache
)

// mustClassCases runs the volunteer half of ecg.classify@1 on the DS1
// records once per test binary (in parallel, it takes a few seconds).
func mustClassCases(tb testing.TB) map[string]*classCase {
	tb.Helper()
	return mustClassCasesFor(tb, ds1)
}

// mustClassCasesFor prepares the named records (a subset of DS1) once
// for ecg.classify@1.
func mustClassCasesFor(tb testing.TB, names []string) map[string]*classCase {
	tb.Helper()
	return mustClassCasesOf(tb, &cases1, NewClassify(), names)
}

// mustClassCases2For is mustClassCasesFor for ecg.classify@2 (the beats
// and fiducial points of ecg.beats@2).
func mustClassCases2For(tb testing.TB, names []string) map[string]*classCase {
	tb.Helper()
	return mustClassCasesOf(tb, &cases2, NewClassify2(), names)
}

// mustClassCasesOf runs the volunteer half of alg on the named records
// and merges their features, once per cache.
func mustClassCasesOf(tb testing.TB, cc *classCache, alg pipeline.Algorithm, names []string) map[string]*classCase {
	tb.Helper()
	mustReadRecord(tb, "mitdb", "101") // skips without the shared data
	cc.once.Do(func() {
		cc.cases = map[string]*classCase{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for _, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				rec := mustReadRecord(tb, "mitdb", name)
				params, _ := alg.Params(nil)
				chunks, err := alg.Split(&rec.Sig, params, pipeline.SplitOptions{})
				if err != nil {
					tb.Error(err)
					return
				}
				parts := make([]pipeline.Part, len(chunks))
				for i := range chunks {
					out, err := alg.Run(&chunks[i].Task, pipeline.NoYield{})
					if err != nil {
						tb.Error(err)
						return
					}
					parts[i] = pipeline.Part{Spec: chunks[i].Spec, Output: out}
				}
				mb, err := mergeFeatures(parts)
				if err != nil {
					tb.Error(err)
					return
				}
				mu.Lock()
				cc.cases[name] = &classCase{name: name, mb: mb, ann: rec.Ann}
				mu.Unlock()
			}()
		}
		wg.Wait()
	})
	for _, n := range names {
		if cc.cases[n] == nil {
			tb.Fatalf("DS1 record %s was not prepared", n)
		}
	}
	return cc.cases
}

// ec57 is the score sheet of one class (VEB or SVEB) against all others.
type ec57 struct{ TP, FN, FP, TN int }

func (s ec57) add(o ec57) ec57 { return ec57{s.TP + o.TP, s.FN + o.FN, s.FP + o.FP, s.TN + o.TN} }

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

// Se, PPV and FPR in %.
func (s ec57) Se() float64  { return pct(s.TP, s.TP+s.FN) }
func (s ec57) PPV() float64 { return pct(s.TP, s.TP+s.FP) }
func (s ec57) FPR() float64 { return pct(s.FP, s.FP+s.TN) }

// scoreClasses matches the classified beats with the reference beats as
// bxb does (150 ms, nearest unmatched detection; the first 5 minutes and
// ventricular flutter episodes unscored) and scores VEB and SVEB: a
// reference V (S) beat that is missed counts as a false negative, an extra
// detection labelled V (S) as a false positive.
func scoreClasses(ref []signal.Annotation, beats []ClassifiedBeat, rate float64) (veb, sveb ec57) {
	w := int64(0.150*rate + 0.5)
	start := int64(300*rate + 0.5)
	type span struct{ lo, hi int64 }
	var flutter []span
	on := int64(-1)
	type rb struct {
		s int64
		c Class
	}
	var refs []rb
	for _, a := range ref {
		switch {
		case a.Code == signal.CodeVFOn:
			if on < 0 {
				on = a.Sample
			}
		case a.Code == signal.CodeVFOff:
			if on >= 0 {
				flutter = append(flutter, span{on, a.Sample})
				on = -1
			}
		case signal.IsQRS(a.Code):
			c, ok := ClassOfCode(a.Code)
			if !ok {
				c = ClassQ
			}
			refs = append(refs, rb{a.Sample, c})
		}
	}
	if on >= 0 {
		flutter = append(flutter, span{on, 1<<62 - 1})
	}
	scored := func(s int64) bool {
		if s < start {
			return false
		}
		for _, f := range flutter {
			if s >= f.lo && s <= f.hi {
				return false
			}
		}
		return true
	}
	tally := func(s *ec57, isRef, isDet bool) {
		switch {
		case isRef && isDet:
			s.TP++
		case isRef:
			s.FN++
		case isDet:
			s.FP++
		default:
			s.TN++
		}
	}
	matched := make([]bool, len(beats))
	j := 0
	for _, r := range refs {
		for j < len(beats) && beats[j].Sample < r.s-w {
			j++
		}
		best := -1
		for k := j; k < len(beats) && beats[k].Sample <= r.s+w; k++ {
			if !matched[k] && (best < 0 || abs64(beats[k].Sample-r.s) < abs64(beats[best].Sample-r.s)) {
				best = k
			}
		}
		if best >= 0 {
			matched[best] = true
		}
		if !scored(r.s) {
			continue
		}
		got := Class(0)
		if best >= 0 {
			got = beats[best].Class
		}
		tally(&veb, r.c == ClassV, got == ClassV)
		tally(&sveb, r.c == ClassS, got == ClassS)
	}
	for k, b := range beats {
		if matched[k] || !scored(b.Sample) {
			continue
		}
		if b.Class == ClassV {
			veb.FP++
		}
		if b.Class == ClassS {
			sveb.FP++
		}
	}
	return veb, sveb
}

// ec57Table formats per-record and gross VEB and SVEB figures as a
// markdown table.
func ec57Table(names []string, veb, sveb map[string]ec57) string {
	var b strings.Builder
	b.WriteString("| record | V ref | VEB Se | VEB +P | VEB FPR | S ref | SVEB Se | SVEB +P | SVEB FPR |\n|---|---|---|---|---|---|---|---|---|\n")
	var gv, gs ec57
	row := func(name string, v, s ec57) {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.2f | %d | %.1f | %.1f | %.2f |\n", name,
			v.TP+v.FN, v.Se(), v.PPV(), v.FPR(), s.TP+s.FN, s.Se(), s.PPV(), s.FPR())
	}
	for _, n := range names {
		row(n, veb[n], sveb[n])
		gv, gs = gv.add(veb[n]), gs.add(sveb[n])
	}
	row("gross", gv, gs)
	return b.String()
}

// Floors of the gross DS1 figures (%), a little below what the committed
// rules reach (docs/algorithms.md has the tables): a change that loses
// more fails. The cross-validated floors are lower, as the estimate of
// what unseen records get.
const (
	floorVEBSe    = 95.0
	floorVEBPPV   = 93.5
	floorSVEBSe   = 81.0
	floorSVEBPPV  = 75.8
	floorCVVEBSe  = 95.0
	floorCVVEBPPV = 93.5
	floorCVSVEBSe = 80.5
	floorCVSVEBP  = 75.2
)

// ec57Records is the DS1 subset a test scores: all of it natively, three
// records under js/wasm (node is slow; the goldens prove the wasm build
// computes the same outputs).
func ec57Records() []string {
	if underWasm {
		return []string{"119", "209", "223"}
	}
	return ds1
}

// TestEC57DS1 scores ecg.classify@1's classes on the DS1 records with the
// EC57 rules, prints the per-record and gross table (go test -run
// TestEC57DS1 -v ./algorithms/ecg/) and fails below the floors.
func TestEC57DS1(t *testing.T) {
	ec57Floors(t, ClassifyName, mustClassCasesFor(t, ec57Records()), false, floorVEBSe, floorVEBPPV, floorSVEBSe, floorSVEBPPV)
}

// Floors of ecg.classify@2's gross DS1 figures (%), a little below what
// it reaches on the beats of ecg.beats@2 (docs/algorithms.md).
const (
	floor2VEBSe   = 94.5
	floor2VEBPPV  = 95.0
	floor2SVEBSe  = 80.5
	floor2SVEBPPV = 84.5
)

// TestEC57DS1Classify2 is TestEC57DS1 for ecg.classify@2: the same rules
// on the beats and fiducial points of ecg.beats@2.
func TestEC57DS1Classify2(t *testing.T) {
	ec57Floors(t, Classify2Name, mustClassCases2For(t, ec57Records()), true, floor2VEBSe, floor2VEBPPV, floor2SVEBSe, floor2SVEBPPV)
}

// TestRelabelKeepsMerge: Relabel without corrections gives the merged
// result back unchanged, for both versions on the DS1 records: @2's
// irregular-rhythm rule applied again changes nothing, and it is not
// applied to @1 results (Relabel applying it to every version changes
// the @1 results of 201, 203, 220, 223 and others).
func TestRelabelKeepsMerge(t *testing.T) {
	for _, v := range []struct {
		name string
		cs   map[string]*classCase
		v2   bool
	}{{ClassifyName, mustClassCasesFor(t, ec57Records()), false}, {Classify2Name, mustClassCases2For(t, ec57Records()), true}} {
		for _, name := range ec57Records() {
			res := classifyBeats(DefaultClassifyParams(), v.cs[name].mb, v.v2)
			res.Algorithm = v.name
			if got, want := jsonDigest(t, res.Relabel(nil, nil)), jsonDigest(t, res); got != want {
				t.Errorf("%s %s: Relabel without corrections changes the result", v.name, name)
			}
		}
	}
}

// ec57Floors classifies the prepared records, logs the EC57 table and
// fails when a gross figure is below its floor.
func ec57Floors(t *testing.T, alg string, cs map[string]*classCase, v2 bool, vse, vppv, sse, sppv float64) {
	t.Helper()
	veb, sveb := map[string]ec57{}, map[string]ec57{}
	var gv, gs ec57
	for _, name := range ec57Records() {
		c := cs[name]
		res := classifyBeats(DefaultClassifyParams(), c.mb, v2)
		veb[name], sveb[name] = scoreClasses(c.ann, res.Beats, c.mb.info.rate)
		gv, gs = gv.add(veb[name]), gs.add(sveb[name])
	}
	t.Logf("%s, EC57 on DS1 (first 5 minutes unscored):\n%s", alg, ec57Table(ec57Records(), veb, sveb))
	if underWasm {
		return
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"gross VEB Se", gv.Se(), vse}, {"gross VEB +P", gv.PPV(), vppv},
		{"gross SVEB Se", gs.Se(), sse}, {"gross SVEB +P", gs.PPV(), sppv},
	} {
		if c.got < c.want {
			t.Errorf("%s: %s %.2f %%, floor %.1f %%", alg, c.what, c.got, c.want)
		}
	}
}

// TestEC57CrossValidation estimates how the rules do on records they were
// not tuned on: for each DS1 record, the four tuned constants (vScoreMin,
// sPremature, sPost, sPWave; vWidthWeight held at 2.5) are chosen from a grid by the gross figures of the other 21
// records (the sum of VEB and SVEB Se and +P), and the held-out record is
// scored with them. It also checks that the committed constants are the
// grid's optimum on all 22 records: that is how they were derived. (The rules'
// structure and the other constants were chosen looking at all of DS1,
// so this is an optimistic estimate of unseen-record performance.)
func TestEC57CrossValidation(t *testing.T) {
	if underWasm || testing.Short() {
		t.Skip("22 records × 54 settings: run natively without -short")
	}
	gv, gs, optimum := crossValidate(t, ClassifyName, mustClassCases(t), defaultTuning)
	if optimum != defaultTuning {
		t.Errorf("the DS1 optimum of the grid is %+v, the committed thresholds are %+v: commit the optimum", optimum, defaultTuning)
	}
	cvFloors(t, "", gv, gs, floorCVVEBSe, floorCVVEBPPV, floorCVSVEBSe, floorCVSVEBP)
}

// Cross-validated floors of ecg.classify@2 (%).
const (
	floor2CVVEBSe   = 94.5
	floor2CVVEBPPV  = 93.0
	floor2CVSVEBSe  = 80.0
	floor2CVSVEBPPV = 84.5
)

// TestEC57CrossValidation2 is TestEC57CrossValidation for ecg.classify@2
// (the same grid, whose optimum with @2's beats and rules differs from
// @1's in sPost only).
func TestEC57CrossValidation2(t *testing.T) {
	if underWasm || testing.Short() {
		t.Skip("22 records × 54 settings: run natively without -short")
	}
	gv, gs, optimum := crossValidate(t, Classify2Name, mustClassCases2For(t, ds1), defaultTuning2)
	if optimum != defaultTuning2 {
		t.Errorf("the DS1 optimum of the grid for @2 is %+v, the committed thresholds are %+v: commit the optimum", optimum, defaultTuning2)
	}
	cvFloors(t, Classify2Name+": ", gv, gs, floor2CVVEBSe, floor2CVVEBPPV, floor2CVSVEBSe, floor2CVSVEBPPV)
}

func cvFloors(t *testing.T, prefix string, gv, gs ec57, vse, vppv, sse, sppv float64) {
	t.Helper()
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"cross-validated VEB Se", gv.Se(), vse}, {"cross-validated VEB +P", gv.PPV(), vppv},
		{"cross-validated SVEB Se", gs.Se(), sse}, {"cross-validated SVEB +P", gs.PPV(), sppv},
	} {
		if c.got < c.want {
			t.Errorf("%s%s %.2f %%, floor %.1f %%", prefix, c.what, c.got, c.want)
		}
	}
}

// crossValidate scores every DS1 record with the grid point chosen on the
// other 21, logs the table and returns the gross sheets and the grid's
// optimum over all 22 records.
func crossValidate(t *testing.T, alg string, cs map[string]*classCase, base tuning) (gv, gs ec57, optimum tuning) {
	t.Helper()
	var grid []tuning
	for _, v := range []float64{1.3, 1.4, 1.5} {
		for _, w := range []float64{2.5} {
			for _, s := range []float64{0.8, 0.85} {
				for _, post := range []float64{1.0, 1.1, 1.2} {
					for _, pw := range []float64{0.3, 0.5, 0.6} {
						tu := base
						tu.vScoreMin, tu.vWidthWeight, tu.sPremature, tu.sPWave, tu.sPost = v, w, s, pw, post
						grid = append(grid, tu)
					}
				}
			}
		}
	}
	type sheet struct{ v, s ec57 }
	score := map[string][]sheet{}
	for _, name := range ds1 {
		c := cs[name]
		f := newBeatFacts(c.mb)
		for _, tu := range grid {
			res := classifyWith(DefaultClassifyParams(), c.mb, f, tu)
			v, s := scoreClasses(c.ann, res.Beats, c.mb.info.rate)
			score[name] = append(score[name], sheet{v, s})
		}
	}
	veb, sveb := map[string]ec57{}, map[string]ec57{}
	var chosen []string
	for _, held := range ds1 {
		best, bestFit := 0, -1.0
		for k := range grid {
			var v, s ec57
			for _, name := range ds1 {
				if name != held {
					v, s = v.add(score[name][k].v), s.add(score[name][k].s)
				}
			}
			if fit := v.Se() + v.PPV() + s.Se() + s.PPV(); fit > bestFit {
				best, bestFit = k, fit
			}
		}
		veb[held], sveb[held] = score[held][best].v, score[held][best].s
		gv, gs = gv.add(veb[held]), gs.add(sveb[held])
		chosen = append(chosen, fmt.Sprintf("%s:%v/%v/%v/%v/%v", held, grid[best].vScoreMin, grid[best].vWidthWeight, grid[best].sPremature, grid[best].sPost, grid[best].sPWave))
	}
	// The committed thresholds are the grid point that fits all of DS1
	// best (the same criterion with no record held out).
	best, bestFit := 0, -1.0
	for k := range grid {
		var v, s ec57
		for _, name := range ds1 {
			v, s = v.add(score[name][k].v), s.add(score[name][k].s)
		}
		if fit := v.Se() + v.PPV() + s.Se() + s.PPV(); fit > bestFit {
			best, bestFit = k, fit
		}
	}
	t.Logf("%s, leave-one-record-out on DS1 (thresholds chosen on the other 21: %s; optimum on all 22: %+v):\n%s", alg, strings.Join(chosen, " "), grid[best], ec57Table(ds1, veb, sveb))
	return gv, gs, grid[best]
}
