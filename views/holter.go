package views

import "fmt"

// HolterPage is the Holter report of one ecg.classify@1 analysis
// (server/holter.go computes it; GET /api/v1/analyses/{id}/report sends
// the same figures as JSON).
type HolterPage struct {
	AnalysisID   int64
	Algorithm    string // the classifier that ran
	DatasetID    int64
	Record       string
	RecordingSec float64
	AnalysedSec  float64
	Beats        int
	N, S, V, F   int
	Q            int
	// WindowSec is the averaging window of MinHR and MaxHR; the times are
	// the starts of the windows, seconds from the start of the record.
	WindowSec       int
	MinHR, MinHRAt  float64
	MeanHR          float64
	MaxHR, MaxHRAt  float64
	Hours           []HolterHour
	Counts          []HolterCount
	AFBurden, AFSec float64
	AFEpisodes      int
	// AFRVREpisodes of the AF episodes had a rapid ventricular response
	// (tachycardia inside AF), AFRVRSec in all.
	AFRVREpisodes int
	AFRVRSec      float64
	// TachyBPM and EpisodeSec are the tachycardia (and RVR) rate and
	// shortest episode.
	TachyBPM, EpisodeSec float64
	LongestPause         float64
	LongestPauseAt       float64
	PauseThreshold       float64
	LongestVRun          *HolterEvent
	FastestVRun          *HolterEvent
	HRV                  []HolterMeasure
	HRVNote              string
	Events               []HolterEvent
	// Families are the largest morphology families, largest first, each
	// relabelled as a whole by a form posting target=family.
	Families        []HolterFamily
	Strip           StripView
	JSON, FHIR, PDF string // links to the API forms of the report
	// TrendBin is the bin of the heart-rate trend (s); TrendT are the
	// bins' centres and TrendMin/Mean/Max their rates (NaN: not covered).
	TrendBin                      float64
	TrendT                        []float64
	TrendMin, TrendMean, TrendMax []float64
	// Corrected marks a report recomputed with Corrections (oldest
	// first); Dismissed are the events a correction hides, which a form
	// shows again; CorrectURL is where the correction forms post.
	Corrected   bool
	Corrections []HolterCorrection
	Dismissed   []HolterEvent
	CorrectURL  string
	CSRFToken   string
}

// HolterCorrection is one row of the corrections' audit list.
type HolterCorrection struct {
	At       string // when, UTC
	By       string // who
	What     string // "beat at 01:02:03.456" or "Pause at 00:10:00"
	From, To string
}

// HolterHour is one row of the hourly table; heart rates are 0 when no
// window of the hour was covered.
type HolterHour struct {
	Start                float64
	Beats                int
	MinHR, MeanHR, MaxHR float64
	V, S, Pauses         int
	Href                 string // the report with the strip at the hour's start
}

// HolterCount is the number of events of one kind.
type HolterCount struct {
	Kind  string
	Count int
}

// HolterEvent is one row of the event list, linking to the strip at it.
type HolterEvent struct {
	Kind     string
	Start    float64
	Duration float64
	Beats    int
	RateBPM  float64
	// MaxRateBPM (AF: the fastest 8-beat ventricular rate) and RVRSec
	// (AF: time in tachycardia inside it, its rapid ventricular
	// response) are 0 for other events.
	MaxRateBPM float64
	RVRSec     float64
	Href       string
	// KindCode and StartSample name the event for the dismiss form.
	KindCode    string
	StartSample int64
}

// afRVR is the summary's note on rapid ventricular response, "" when no
// AF episode had one; the page and the PDF say the same.
func (p HolterPage) afRVR() string {
	if p.AFRVREpisodes == 0 {
		return ""
	}
	return fmt.Sprintf("%d with rapid ventricular response (RVR: above %s bpm for %s or more), %s in all",
		p.AFRVREpisodes, fmtNum(p.TachyBPM, 0), Duration(p.EpisodeSec), Duration(p.AFRVRSec))
}

// rvr is what an AF event row adds to its kind: ", RVR 1 min 5 s" when
// it had a rapid ventricular response.
func (e HolterEvent) rvr() string {
	if e.RVRSec <= 0 {
		return ""
	}
	return ", RVR " + Duration(e.RVRSec)
}

// rate is an event row's rate: the mean, and for AF also the fastest.
func (e HolterEvent) rate() string {
	if e.MaxRateBPM > 0 {
		return fmtNum(e.RateBPM, 0) + " bpm, max " + fmtNum(e.MaxRateBPM, 0)
	}
	return fmtNum(e.RateBPM, 0) + " bpm"
}

// HolterMeasure is an HRV measure beside its Task Force (1996) 24-hour
// norm (mean ± SD of healthy adults; "—" where the Task Force gives none).
type HolterMeasure struct {
	Name, Unit string
	Value      float64
	Norm       string
}

// clock formats seconds from the start of the record as HH:MM:SS, the
// form Holter reports use whatever the record's length.
func clock(sec float64) string {
	t := int64(sec + 0.5)
	if sec < 0 {
		t = 0
	}
	return fmt.Sprintf("%02d:%02d:%02d", t/3600, t/60%60, t%60)
}

// hrOrDash formats a heart rate, 0 (no covered window) as a dash.
func hrOrDash(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmtNum(v, 0)
}

// trendBinName names the trend's bin: "minute" or "5 minutes".
func trendBinName(sec float64) string {
	if sec == 60 {
		return "minute"
	}
	return fmtNum(sec/60, 0) + " minutes"
}

// HolterFamily is one morphology family (template) of the report: its
// representative beat (Samples, fiducial point at index At), its size and
// the classes of its beats as corrected.
type HolterFamily struct {
	Index         int
	Beats         int
	Class         string // the class most of its beats have
	N, S, V, F, Q int
	Corr, Width   float64 // against the dominant family's template
	Samples       []float64
	At            int
	Href          string // the report with the strip at the representative beat
}
