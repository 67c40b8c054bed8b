package server

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/server/store"
)

var updateFHIR = flag.Bool("update-fhir", false, "rewrite testdata/holter/fhir/*.json")

// fhirFixture is a small classify result made by hand: two hours at 75
// bpm with a V beat every 50 beats, one pause and one AF episode, so the
// golden Bundle does not move when the classifier is retuned.
func fhirFixture() (*ecg.ClassifyResult, store.Analysis, store.Dataset) {
	res := &ecg.ClassifyResult{Algorithm: ecg.ClassifyName, Params: ecg.DefaultClassifyParams(), Rate: 360, Samples: 2 * 3600 * 360}
	t := 0.5
	for i := 0; t < 7199; i++ {
		rr := 0.8
		if i == 4000 {
			rr = 2.4
		}
		if i > 0 {
			t += rr
		} else {
			rr = 0
		}
		c := ecg.ClassN
		if i%50 == 49 {
			c = ecg.ClassV
		}
		res.Beats = append(res.Beats, ecg.ClassifiedBeat{Sample: int64(t * 360), Time: float64(int64(t*360)) / 360, RR: rr, Class: c})
	}
	res.Count = len(res.Beats)
	res = res.Relabel(nil, nil) // classes, events and rhythm as Merge finds them
	ds := store.Dataset{ID: 7, Name: "Smith^John 1961-02-03", Duration: 7200, CreatedAt: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	a := store.Analysis{ID: 42, DatasetID: 7, Algorithm: ecg.ClassifyName, Status: store.StatusDone, FinishedAt: time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)}
	return res, a, ds
}

// checkFHIRBundle checks the FHIR R4 structure of a Holter Bundle: the
// required elements of Bundle, DiagnosticReport and Observation, the
// codes (LOINC where one exists, the local system otherwise), UCUM units,
// references that resolve inside the Bundle, a subject that is the
// dataset, and no patient identity.
func checkFHIRBundle(t *testing.T, body []byte, datasetID int64, leak string) {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("bundle is not JSON: %v", err)
	}
	if leak != "" && bytes.Contains(body, []byte(leak)) {
		t.Errorf("the bundle contains the dataset's name %q", leak)
	}
	str := func(m map[string]any, k string) string {
		s, _ := m[k].(string)
		return s
	}
	if str(b, "resourceType") != "Bundle" || str(b, "type") != "collection" {
		t.Fatalf("resourceType %q, type %q", str(b, "resourceType"), str(b, "type"))
	}
	instant := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
	uuid := regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	id := regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	entries, _ := b["entry"].([]any)
	urls := map[string]map[string]any{}
	var report map[string]any
	codes := map[string]map[string]any{} // observation code -> its valueQuantity
	ucum := map[string]bool{"/min": true, "ms": true, "s": true, "%": true, "1": true, "{beats}": true, "{pauses}": true, "{episodes}": true}
	checkCoding := func(where string, cc any) []string {
		c, _ := cc.(map[string]any)
		list, _ := c["coding"].([]any)
		if len(list) == 0 {
			t.Errorf("%s: CodeableConcept without coding", where)
		}
		var out []string
		for _, x := range list {
			m, _ := x.(map[string]any)
			sys, code := str(m, "system"), str(m, "code")
			switch sys {
			case fhirLOINC:
				if !regexp.MustCompile(`^\d{1,7}-\d$`).MatchString(code) {
					t.Errorf("%s: LOINC code %q", where, code)
				}
			case fhirLocalSystem, fhirV20074, "http://terminology.hl7.org/CodeSystem/data-absent-reason":
			default:
				t.Errorf("%s: coding system %q", where, sys)
			}
			if code == "" {
				t.Errorf("%s: coding without code", where)
			}
			out = append(out, sys+"|"+code)
		}
		return out
	}
	checkQty := func(where string, q any) {
		m, ok := q.(map[string]any)
		if !ok {
			return
		}
		if _, isNum := m["value"].(float64); !isNum || str(m, "system") != fhirUCUM || !ucum[str(m, "code")] || str(m, "unit") == "" {
			t.Errorf("%s: quantity %v is not a UCUM quantity", where, m)
		}
	}
	checkSubject := func(where string, s any) {
		m, _ := s.(map[string]any)
		ident, _ := m["identifier"].(map[string]any)
		if str(ident, "system") != fhirDatasetSystem || str(ident, "value") != fmt.Sprint(datasetID) || m["reference"] != nil {
			t.Errorf("%s: subject %v, want the dataset %d by identifier", where, m, datasetID)
		}
	}
	checkPeriod := func(where string, p any) {
		m, _ := p.(map[string]any)
		if !instant.MatchString(str(m, "start")) || !instant.MatchString(str(m, "end")) || str(m, "start") > str(m, "end") {
			t.Errorf("%s: effectivePeriod %v", where, m)
		}
	}
	for i, e := range entries {
		em, _ := e.(map[string]any)
		res, _ := em["resource"].(map[string]any)
		url := str(em, "fullUrl")
		if !uuid.MatchString(url) || !strings.HasSuffix(url, str(res, "id")) || !id.MatchString(str(res, "id")) {
			t.Errorf("entry %d: fullUrl %q, id %q", i, url, str(res, "id"))
		}
		urls[url] = res
		where := fmt.Sprintf("entry %d (%s)", i, str(res, "resourceType"))
		switch str(res, "resourceType") {
		case "DiagnosticReport":
			report = res
			if st := str(res, "status"); st != "final" && st != "corrected" {
				t.Errorf("%s: status %q", where, st)
			}
			if c := checkCoding(where, res["code"]); len(c) == 0 || c[0] != fhirLOINC+"|18754-2" {
				t.Errorf("%s: code %v, want LOINC 18754-2", where, c)
			}
			checkSubject(where, res["subject"])
			checkPeriod(where, res["effectivePeriod"])
			if !instant.MatchString(str(res, "issued")) {
				t.Errorf("%s: issued %q", where, str(res, "issued"))
			}
		case "Observation":
			if st := str(res, "status"); st != "final" && st != "corrected" {
				t.Errorf("%s: status %q", where, st)
			}
			c := checkCoding(where, res["code"])
			if len(c) > 0 {
				codes[strings.Join(c, " ")] = res
			}
			checkSubject(where, res["subject"])
			checkPeriod(where, res["effectivePeriod"])
			_, hasValue := res["valueQuantity"]
			_, absent := res["dataAbsentReason"]
			if hasValue == absent {
				t.Errorf("%s: needs exactly one of valueQuantity and dataAbsentReason", where)
			}
			checkQty(where, res["valueQuantity"])
			comps, _ := res["component"].([]any)
			for k, x := range comps {
				cm, _ := x.(map[string]any)
				checkCoding(fmt.Sprintf("%s component %d", where, k), cm["code"])
				checkQty(fmt.Sprintf("%s component %d", where, k), cm["valueQuantity"])
			}
		default:
			t.Errorf("%s: unexpected resource", where)
		}
	}
	if report == nil {
		t.Fatal("no DiagnosticReport")
	}
	results, _ := report["result"].([]any)
	if len(results) != len(entries)-1 {
		t.Errorf("report has %d results for %d observations", len(results), len(entries)-1)
	}
	for _, r := range results {
		ref := str(r.(map[string]any), "reference")
		if o := urls[ref]; o == nil || str(o, "resourceType") != "Observation" {
			t.Errorf("report result %q does not resolve to an Observation of the bundle", ref)
		}
	}
	// The figures the issue names, each under its code and unit.
	for _, want := range []struct{ code, unit string }{
		{fhirLOINC + "|8867-4 " + fhirLocalSystem + "|hr-min", "/min"},
		{fhirLOINC + "|8867-4 " + fhirLocalSystem + "|hr-mean", "/min"},
		{fhirLOINC + "|8867-4 " + fhirLocalSystem + "|hr-max", "/min"},
		{fhirLocalSystem + "|beat-counts", "{beats}"},
		{fhirLocalSystem + "|pauses", "{pauses}"},
		{fhirLocalSystem + "|af-burden", "%"},
		{fhirLOINC + "|80404-7 " + fhirLocalSystem + "|hrv-sdnn", "ms"},
		{fhirLocalSystem + "|hrv-rmssd", "ms"},
		{fhirLocalSystem + "|hrv-pnn50", "%"},
	} {
		o := codes[want.code]
		if o == nil {
			t.Errorf("no Observation coded %s", want.code)
			continue
		}
		if q, _ := o["valueQuantity"].(map[string]any); q != nil && str(q, "code") != want.unit {
			t.Errorf("%s: unit %q, want %q", want.code, str(q, "code"), want.unit)
		}
	}
}

// TestHolterFHIR renders the Bundle of a fixed report, checks its
// structure and compares it with testdata/holter/fhir/bundle.json (run
// with -update-fhir to rewrite it after a deliberate change).
func TestHolterFHIR(t *testing.T) {
	res, a, ds := fhirFixture()
	rep := buildHolterReport(a, ds, res)
	got, err := json.MarshalIndent(holterFHIR(rep, a, ds), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	checkFHIRBundle(t, got, ds.ID, ds.Name)
	golden := filepath.Join("testdata", "holter", "fhir", "bundle.json")
	if *updateFHIR {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./server -run TestHolterFHIR -update-fhir)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("bundle differs from %s (run with -update-fhir after a deliberate change)", golden)
	}
	// The figures are the report's.
	var b struct {
		Entry []struct {
			Resource struct {
				Code          struct{ Coding []struct{ Code string } }
				ValueQuantity struct{ Value float64 }
				Component     []struct {
					Code          struct{ Coding []struct{ Code string } }
					ValueQuantity struct{ Value float64 }
				}
				EffectivePeriod struct{ Start string }
			}
		}
	}
	json.Unmarshal(got, &b)
	vals := map[string]float64{}
	var minStart string
	for _, e := range b.Entry {
		if c := e.Resource.Code.Coding; len(c) > 0 {
			vals[c[len(c)-1].Code] = e.Resource.ValueQuantity.Value
			if len(c) > 1 && c[1].Code == "hr-min" {
				minStart = e.Resource.EffectivePeriod.Start
			}
		}
		for _, c := range e.Resource.Component {
			vals[c.Code.Coding[0].Code] = c.ValueQuantity.Value
		}
	}
	if vals["beats-V"] != float64(rep.Classes.V) || vals["beats-N"] != float64(rep.Classes.N) || vals["beat-counts"] != float64(rep.Beats) || rep.Classes.V == 0 {
		t.Errorf("beat counts %v, report %+v", vals, rep.Classes)
	}
	if vals["pauses"] != 1 || vals["pause-longest"] != 2.4 || vals["hr-min"] != round(rep.MinHR.BPM, 1) || vals["hr-max"] != round(rep.MaxHR.BPM, 1) {
		t.Errorf("pauses %v, longest %v, HR min %v max %v; report %+v %+v", vals["pauses"], vals["pause-longest"], vals["hr-min"], vals["hr-max"], rep.MinHR, rep.MaxHR)
	}
	if want := ds.CreatedAt.Add(time.Duration(rep.MinHR.Time) * time.Second).Format("2006-01-02T15:04:05.000Z"); minStart != want {
		t.Errorf("HR minimum at %s, want %s (upload time + %v s)", minStart, want, rep.MinHR.Time)
	}
}
