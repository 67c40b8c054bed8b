package server

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// The Holter report as an HL7 FHIR R4 Bundle (GET
// /api/v1/analyses/{id}/report?format=fhir; docs/api.md lists the codes).
// LOINC codes are used where LOINC has the concept:
//
//	18754-2  Ambulatory cardiac rhythm monitor (Holter) study (the DiagnosticReport)
//	8867-4   Heart rate (minimum, mean and maximum, told apart by a local code beside it)
//	8873-2   Heart rate 24 hour maximum (added to the maximum of a 24-hour record only)
//	80404-7  R-R interval.standard deviation (Heart rate variability), i.e. SDNN
//
// Beat counts per EC57 class, pauses, AF burden and the other HRV measures
// have no LOINC code that we found; they carry codes of the local
// CodeSystem fhirLocalSystem. Units are UCUM.

const (
	fhirLOINC       = "http://loinc.org"
	fhirUCUM        = "http://unitsofmeasure.org"
	fhirLocalSystem = "urn:pulsegrid:fhir:CodeSystem:holter"
	// fhirDatasetSystem names pulsegrid datasets: the subject is the
	// dataset, never a patient (the store holds no patient identity).
	fhirDatasetSystem = "urn:pulsegrid:dataset"
	fhirV20074        = "http://terminology.hl7.org/CodeSystem/v2-0074"
)

type fhirCoding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type fhirConcept struct {
	Coding []fhirCoding `json:"coding"`
	Text   string       `json:"text,omitempty"`
}

type fhirQuantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	System string  `json:"system"`
	Code   string  `json:"code"`
}

type fhirPeriod struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type fhirIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type fhirReference struct {
	Reference  string          `json:"reference,omitempty"`
	Identifier *fhirIdentifier `json:"identifier,omitempty"`
	Display    string          `json:"display,omitempty"`
}

type fhirComponent struct {
	Code          fhirConcept   `json:"code"`
	ValueQuantity *fhirQuantity `json:"valueQuantity,omitempty"`
}

type fhirAnnotation struct {
	Text string `json:"text"`
}

type fhirObservation struct {
	ResourceType     string           `json:"resourceType"`
	ID               string           `json:"id"`
	Status           string           `json:"status"`
	Code             fhirConcept      `json:"code"`
	Subject          fhirReference    `json:"subject"`
	EffectivePeriod  *fhirPeriod      `json:"effectivePeriod,omitempty"`
	Issued           string           `json:"issued,omitempty"`
	ValueQuantity    *fhirQuantity    `json:"valueQuantity,omitempty"`
	DataAbsentReason *fhirConcept     `json:"dataAbsentReason,omitempty"`
	Note             []fhirAnnotation `json:"note,omitempty"`
	Component        []fhirComponent  `json:"component,omitempty"`
}

type fhirDiagnosticReport struct {
	ResourceType    string           `json:"resourceType"`
	ID              string           `json:"id"`
	Identifier      []fhirIdentifier `json:"identifier"`
	Status          string           `json:"status"`
	Category        []fhirConcept    `json:"category"`
	Code            fhirConcept      `json:"code"`
	Subject         fhirReference    `json:"subject"`
	EffectivePeriod fhirPeriod       `json:"effectivePeriod"`
	Issued          string           `json:"issued"`
	Result          []fhirReference  `json:"result"`
	Conclusion      string           `json:"conclusion"`
}

type fhirEntry struct {
	FullURL  string `json:"fullUrl"`
	Resource any    `json:"resource"`
}

// fhirBundle is a FHIR R4 Bundle of type collection.
type fhirBundle struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Timestamp    string      `json:"timestamp"`
	Entry        []fhirEntry `json:"entry"`
}

// fhirUUID is a name-based UUID (SHA-256, version 8 layout) so the same
// report gives the same Bundle.
func fhirUUID(name string) string {
	h := sha256.Sum256([]byte(name))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// holterFHIR renders the report as a Bundle: one DiagnosticReport and its
// Observations. The record's own clock time is removed at ingest, so
// times are the dataset's upload time (start) plus the offset into the
// record, as the conclusion says; issued is when the analysis finished.
func holterFHIR(rep holterReport, a store.Analysis, ds store.Dataset) fhirBundle {
	start := ds.CreatedAt.UTC().Truncate(time.Second)
	at := func(sec float64) string {
		return start.Add(time.Duration(math.Round(sec*1000)) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	}
	period := func(from, to float64) *fhirPeriod { return &fhirPeriod{Start: at(from), End: at(to)} }
	issued := a.FinishedAt.UTC().Format(time.RFC3339)
	subject := fhirReference{Identifier: &fhirIdentifier{System: fhirDatasetSystem, Value: fmt.Sprint(ds.ID)}, Display: fmt.Sprintf("pulsegrid dataset %d", ds.ID)}
	status := "final"
	if rep.Corrected {
		status = "corrected"
	}
	base := fmt.Sprintf("pulsegrid analysis %d revision %d corrections %d", a.ID, a.Revision, len(rep.Corrections))
	local := func(code, display string) fhirCoding {
		return fhirCoding{System: fhirLocalSystem, Code: code, Display: display}
	}
	loinc := func(code, display string) fhirCoding {
		return fhirCoding{System: fhirLOINC, Code: code, Display: display}
	}
	qty := func(v float64, unit, code string) *fhirQuantity {
		return &fhirQuantity{Value: v, Unit: unit, System: fhirUCUM, Code: code}
	}
	bpm := func(v float64) *fhirQuantity { return qty(round(v, 1), "beats/minute", "/min") }
	count := func(n int, unit string) *fhirQuantity { return qty(float64(n), unit, "{"+unit+"}") }
	whole := period(0, rep.RecordingSeconds)

	var obs []fhirObservation
	add := func(o fhirObservation) {
		o.ResourceType, o.Status, o.Subject, o.Issued = "Observation", status, subject, issued
		if o.EffectivePeriod == nil {
			o.EffectivePeriod = whole
		}
		o.ID = fhirUUID(fmt.Sprintf("%s observation %d", base, len(obs)))
		obs = append(obs, o)
	}
	noValue := &fhirConcept{Coding: []fhirCoding{{System: "http://terminology.hl7.org/CodeSystem/data-absent-reason", Code: "not-applicable", Display: "Not Applicable"}}}
	hr := func(code, display string, r rateAt, window bool) {
		o := fhirObservation{Code: fhirConcept{Coding: []fhirCoding{loinc("8867-4", "Heart rate"), local(code, display)}, Text: display}}
		if code == "hr-max" && rep.RecordingSeconds >= 23.5*3600 && rep.RecordingSeconds <= 24.5*3600 {
			o.Code.Coding = append(o.Code.Coding, loinc("8873-2", "Heart rate 24 hour maximum"))
		}
		if r.BPM > 0 {
			o.ValueQuantity = bpm(r.BPM)
		} else {
			o.DataAbsentReason = noValue
		}
		if window {
			o.EffectivePeriod = period(r.Time, r.Time+float64(rep.HRWindowSeconds))
			o.Note = []fhirAnnotation{{Text: fmt.Sprintf("Mean rate over the %d s window from %s into the record.", rep.HRWindowSeconds, clockOf(r.Time))}}
		}
		add(o)
	}
	hr("hr-min", "Heart rate, minimum over the record", rep.MinHR, true)
	hr("hr-mean", "Heart rate, mean over the record", rateAt{BPM: rep.MeanHR}, false)
	hr("hr-max", "Heart rate, maximum over the record", rep.MaxHR, true)

	beats := fhirObservation{Code: fhirConcept{Coding: []fhirCoding{local("beat-counts", "Beats per ANSI/AAMI EC57 class")}, Text: "Beats per ANSI/AAMI EC57 class"}}
	beats.ValueQuantity = count(rep.Beats, "beats")
	for _, c := range []struct {
		class, name string
		n           int
	}{{"N", "normal or bundle branch block", rep.Classes.N}, {"S", "supraventricular ectopic", rep.Classes.S}, {"V", "ventricular ectopic", rep.Classes.V},
		{"F", "fusion", rep.Classes.F}, {"Q", "paced or unclassifiable", rep.Classes.Q}} {
		beats.Component = append(beats.Component, fhirComponent{
			Code: fhirConcept{Coding: []fhirCoding{local("beats-"+c.class, "Beats of EC57 class "+c.class+" ("+c.name+")")}}, ValueQuantity: count(c.n, "beats")})
	}
	add(beats)

	pauses := 0
	for _, c := range rep.EventCounts {
		if c.Kind == ecg.EventPause {
			pauses = c.Count
		}
	}
	add(fhirObservation{Code: fhirConcept{Coding: []fhirCoding{local("pauses", "Pauses")}, Text: fmt.Sprintf("Pauses (RR interval of %.1f s or more)", rep.PauseThreshold)},
		ValueQuantity: count(pauses, "pauses"),
		Component: []fhirComponent{
			{Code: fhirConcept{Coding: []fhirCoding{local("pause-longest", "Longest RR interval")}}, ValueQuantity: qty(round(rep.LongestPause, 3), "s", "s")},
			{Code: fhirConcept{Coding: []fhirCoding{local("pause-threshold", "Shortest RR interval counted as a pause")}}, ValueQuantity: qty(rep.PauseThreshold, "s", "s")},
		}})
	add(fhirObservation{Code: fhirConcept{Coding: []fhirCoding{local("af-burden", "Atrial fibrillation burden")}, Text: "Atrial fibrillation burden (share of the analysed time)"},
		ValueQuantity: qty(round(100*rep.AFBurden, 2), "%", "%"),
		Component: []fhirComponent{
			{Code: fhirConcept{Coding: []fhirCoding{local("af-time", "Time in atrial fibrillation")}}, ValueQuantity: qty(round(rep.AFSeconds, 1), "s", "s")},
			{Code: fhirConcept{Coding: []fhirCoding{local("af-episodes", "Atrial fibrillation episodes")}}, ValueQuantity: count(rep.AFEpisodes, "episodes")},
		}})

	h := rep.HRV
	for _, m := range []struct {
		coding     fhirCoding
		v          float64
		unit, ucum string
	}{
		{loinc("80404-7", "R-R interval.standard deviation (Heart rate variability)"), h.SDNN, "ms", "ms"},
		{local("hrv-sdann", "SDANN (SD of the 5-minute mean NN intervals)"), h.SDANN, "ms", "ms"},
		{local("hrv-sdnn-index", "SDNN index (mean of the 5-minute SDNN)"), h.SDNNIndex, "ms", "ms"},
		{local("hrv-rmssd", "RMSSD (root mean square of successive NN differences)"), h.RMSSD, "ms", "ms"},
		{local("hrv-pnn50", "pNN50 (successive NN differences over 50 ms)"), h.PNN50, "%", "%"},
		{local("hrv-triangular-index", "HRV triangular index"), h.TriangularIndex, "1", "1"},
	} {
		o := fhirObservation{Code: fhirConcept{Coding: []fhirCoding{m.coding}, Text: m.coding.Display}}
		if m.coding.Code == "80404-7" {
			o.Code.Coding = append(o.Code.Coding, local("hrv-sdnn", "SDNN (SD of all NN intervals)"))
		}
		if h.NN >= 2 {
			o.ValueQuantity = qty(round(m.v, 2), m.unit, m.ucum)
		} else {
			o.DataAbsentReason = noValue
		}
		add(o)
	}

	dr := fhirDiagnosticReport{
		ResourceType: "DiagnosticReport", ID: fhirUUID(base + " report"),
		Identifier: []fhirIdentifier{{System: "urn:pulsegrid:analysis", Value: fmt.Sprint(a.ID)}},
		Status:     status,
		Category:   []fhirConcept{{Coding: []fhirCoding{{System: fhirV20074, Code: "EC", Display: "Electrocardiac (e.g., EKG, EEC, Holter)"}}}},
		Code:       fhirConcept{Coding: []fhirCoding{loinc("18754-2", "Ambulatory cardiac rhythm monitor (Holter) study")}, Text: "Holter report"},
		Subject:    subject, EffectivePeriod: *whole, Issued: issued,
	}
	dr.Conclusion = fmt.Sprintf("%s (%s) of %s recording: %d beats (N %d, S %d, V %d, F %d, Q %d), HR %s/%s/%s bpm (min/mean/max of %d s averages), %d pauses, AF burden %.1f %%. Times are the dataset's upload time plus the offset into the record; the recording's own clock time was removed at de-identification.",
		a.Algorithm, "pulsegrid", clockOf(rep.RecordingSeconds), rep.Beats, rep.Classes.N, rep.Classes.S, rep.Classes.V, rep.Classes.F, rep.Classes.Q,
		hrText(rep.MinHR.BPM), hrText(rep.MeanHR), hrText(rep.MaxHR.BPM), rep.HRWindowSeconds, pauses, 100*rep.AFBurden)
	if rep.Corrected {
		dr.Conclusion += fmt.Sprintf(" Corrected: recomputed with %d clinician corrections of beat classes and events; the verified result is unchanged.", len(rep.Corrections))
	}
	b := fhirBundle{ResourceType: "Bundle", ID: fhirUUID(base + " bundle"), Type: "collection", Timestamp: issued}
	entries := []fhirEntry{{FullURL: "urn:uuid:" + dr.ID, Resource: &dr}}
	for i := range obs {
		url := "urn:uuid:" + obs[i].ID
		dr.Result = append(dr.Result, fhirReference{Reference: url})
		entries = append(entries, fhirEntry{FullURL: url, Resource: &obs[i]})
	}
	b.Entry = entries
	return b
}

func hrText(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

// writeFHIR answers a FHIR resource as application/fhir+json.
func writeFHIR(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.Write(append(b, '\n'))
}
