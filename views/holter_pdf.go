package views

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// EventStrip is an event of the report with the signal around it, for the
// PDF's strip pages.
type EventStrip struct {
	Event HolterEvent
	Strip StripView
}

// MaxPDFStrips bounds the event strips a PDF draws (a day of ectopy can
// hold thousands of events; the event table lists them all).
const MaxPDFStrips = 40

// StripEvents picks the events a PDF draws strips for, at most
// MaxPDFStrips, in time order: taken in turn from each kind of event (in
// the order the kinds first occur), so that a thousand couplets do not
// crowd out the one pause.
func StripEvents(events []HolterEvent) []HolterEvent {
	if len(events) <= MaxPDFStrips {
		return events
	}
	var kinds []string
	byKind := map[string][]int{}
	for i, e := range events {
		if _, ok := byKind[e.Kind]; !ok {
			kinds = append(kinds, e.Kind)
		}
		byKind[e.Kind] = append(byKind[e.Kind], i)
	}
	var picked []int
	for round := 0; len(picked) < MaxPDFStrips; round++ {
		for _, k := range kinds {
			if round < len(byKind[k]) && len(picked) < MaxPDFStrips {
				picked = append(picked, byKind[k][round])
			}
		}
	}
	slices.Sort(picked)
	out := make([]HolterEvent, len(picked))
	for i, j := range picked {
		out[i] = events[j]
	}
	return out
}

// PDFStripSeconds is the signal an event strip shows: 7.6 s at the
// standard 25 mm/s fills the 190 mm of an A4 page between its margins.
const PDFStripSeconds = 7.6

// Paper scale of the strips, the one ECGs are read at.
const (
	mmPerSecond = 25.0
	mmPerMV     = 10.0
)

// HolterPDF writes the report of p as a PDF (A4): the same summary,
// counts, HRV, trend, hourly table and event table as the page, then a
// strip for each event in strips, at 25 mm/s and 10 mm/mV on ECG paper.
// generated is the time printed in the footer.
func HolterPDF(w io.Writer, p HolterPage, strips []EventStrip, generated time.Time) error {
	return holterPDF(p, strips, generated, true).Output(w)
}

// holterPDF builds the document; compress false leaves its text readable
// in the file, for tests.
func holterPDF(p HolterPage, strips []EventStrip, generated time.Time, compress bool) *fpdf.Fpdf {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(compress)
	pdf.SetCreationDate(generated)
	pdf.SetModificationDate(generated)
	title := fmt.Sprintf("Holter report: %s", p.Record)
	pdf.SetTitle(title, true)
	pdf.SetCreator("pulsegrid", true)
	pdf.SetMargins(10, 12, 10)
	pdf.SetAutoPageBreak(true, 14)
	pdf.AliasNbPages("{nb}")
	d := &pdfDoc{f: pdf, tr: pdf.UnicodeTranslatorFromDescriptor("")}
	pdf.SetFooterFunc(func() {
		pdf.SetY(-10)
		d.font("", 7)
		pdf.SetTextColor(110, 110, 110)
		d.cell(95, 4, fmt.Sprintf("%s · analysis #%d · %s UTC", p.Record, p.AnalysisID, generated.UTC().Format("2006-01-02 15:04")), "L", 0)
		d.cell(95, 4, fmt.Sprintf("page %d of {nb}", pdf.PageNo()), "R", 0)
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()

	d.font("B", 15)
	d.cell(0, 8, title, "L", 1)
	d.font("", 9)
	d.para(fmt.Sprintf("Analysis #%d of dataset #%d, from its verified result (%s). Times are from the start of the recording.", p.AnalysisID, p.DatasetID, p.Algorithm))
	if p.Corrected {
		d.font("B", 9)
		d.para(fmt.Sprintf("Corrected report: recomputed with %d clinician corrections; the verified result is unchanged.", len(p.Corrections)))
	}

	d.heading("Summary")
	rows := [][2]string{
		{"Recording", clock(p.RecordingSec)},
		{"Analysed (first to last beat)", clock(p.AnalysedSec)},
		{"Total beats", itoa(p.Beats)},
		{"Beat classes", fmt.Sprintf("N %d, S %d, V %d, F %d, Q %d", p.N, p.S, p.V, p.F, p.Q)},
		{fmt.Sprintf("Minimum HR (%d s average)", p.WindowSec), fmt.Sprintf("%s bpm at %s", hrOrDash(p.MinHR), clock(p.MinHRAt))},
		{"Mean HR", hrOrDash(p.MeanHR) + " bpm"},
		{fmt.Sprintf("Maximum HR (%d s average)", p.WindowSec), fmt.Sprintf("%s bpm at %s", hrOrDash(p.MaxHR), clock(p.MaxHRAt))},
		{"AF burden", fmt.Sprintf("%s (%s in %d episodes)", fmtPct(p.AFBurden), clock(p.AFSec), p.AFEpisodes)},
	}
	if p.AFRVREpisodes > 0 {
		rows = append(rows, [2]string{"AF with RVR", p.afRVR()})
	}
	rows = append(rows, [][2]string{
		{"Longest RR interval", fmt.Sprintf("%s s at %s (pauses are RR ≥ %s s)", fmtNum(p.LongestPause, 2), clock(p.LongestPauseAt), fmtNum(p.PauseThreshold, 1))},
	}...)
	if e := p.LongestVRun; e != nil {
		rows = append(rows, [2]string{"Longest V run", fmt.Sprintf("%d beats at %s, %s bpm", e.Beats, clock(e.Start), fmtNum(e.RateBPM, 0))})
	}
	if e := p.FastestVRun; e != nil {
		rows = append(rows, [2]string{"Fastest V run", fmt.Sprintf("%s bpm at %s, %d beats", fmtNum(e.RateBPM, 0), clock(e.Start), e.Beats)})
	}
	for _, r := range rows {
		d.font("B", 9)
		d.cell(70, 5, r[0], "L", 0)
		d.font("", 9)
		d.cell(0, 5, r[1], "L", 1)
	}

	d.heading("Ectopy and runs")
	counts := make([][]string, len(p.Counts))
	for i, c := range p.Counts {
		counts[i] = []string{c.Kind, itoa(c.Count)}
	}
	d.table([]pdfColumn{{"Event", 70, "L"}, {"Count", 25, "R"}}, counts)

	d.heading("Heart rate variability (NN intervals)")
	if p.HRVNote != "" {
		d.font("", 8)
		d.para(p.HRVNote)
	}
	hrv := make([][]string, len(p.HRV))
	for i, m := range p.HRV {
		hrv[i] = []string{m.Name, fmtNum(m.Value, 1) + " " + m.Unit, m.Norm + " " + m.Unit}
	}
	d.table([]pdfColumn{{"Measure", 50, "L"}, {"Value", 35, "R"}, {"Task Force 24-h norm", 45, "R"}}, hrv)

	d.heading("Heart-rate trend")
	d.trend(p)

	d.heading("Hourly table")
	hours := make([][]string, len(p.Hours))
	for i, h := range p.Hours {
		hours[i] = []string{clock(h.Start), itoa(h.Beats), hrOrDash(h.MinHR), hrOrDash(h.MeanHR), hrOrDash(h.MaxHR), itoa(h.V), itoa(h.S), itoa(h.Pauses)}
	}
	d.table([]pdfColumn{{"Hour from", 25, "L"}, {"Beats", 22, "R"}, {"HR min", 20, "R"}, {"HR mean", 20, "R"},
		{"HR max", 20, "R"}, {"V", 20, "R"}, {"S", 20, "R"}, {"Pauses", 20, "R"}}, hours)

	d.heading(fmt.Sprintf("Events (%d)", len(p.Events)))
	events := make([][]string, len(p.Events))
	for i, e := range p.Events {
		events[i] = []string{clock(e.Start), e.Kind + e.rvr(), fmtNum(e.Duration, 1) + " s", itoa(e.Beats), e.rate()}
	}
	d.table([]pdfColumn{{"Time", 25, "L"}, {"Event", 70, "L"}, {"Duration", 25, "R"}, {"Beats", 20, "R"}, {"Rate", 35, "R"}}, events)

	if len(strips) > 0 {
		pdf.AddPage()
		d.heading("Event strips")
		d.font("", 8)
		note := "25 mm/s, 10 mm/mV; beats are marked with their class where it is not N."
		if len(p.Events) > len(strips) {
			note = fmt.Sprintf("%d of %d events, each kind of event among them. ", len(strips), len(p.Events)) + note
		}
		d.para(note)
		for _, s := range strips {
			d.strip(s)
		}
	}
	return pdf
}

// pdfDoc wraps the document with the report's text helpers; tr maps UTF-8
// to the core fonts' code page (cp1252: "–", "±", "≥" are not in it and
// come out as the nearest the translator has).
type pdfDoc struct {
	f  *fpdf.Fpdf
	tr func(string) string
}

type pdfColumn struct {
	title string
	width float64
	align string
}

func (d *pdfDoc) font(style string, size float64) { d.f.SetFont("Helvetica", style, size) }

func (d *pdfDoc) cell(w, h float64, s, align string, ln int) {
	d.f.CellFormat(w, h, d.tr(pdfText(s)), "", ln, align, false, 0, "")
}

func (d *pdfDoc) para(s string) { d.f.MultiCell(0, 4.2, d.tr(pdfText(s)), "", "L", false) }

func (d *pdfDoc) heading(s string) {
	d.need(20)
	d.f.Ln(3)
	d.font("B", 11)
	d.cell(0, 7, s, "L", 1)
}

// need starts a new page unless h mm are left above the bottom margin.
func (d *pdfDoc) need(h float64) {
	_, ph := d.f.GetPageSize()
	_, _, _, bottom := d.f.GetMargins()
	if d.f.GetY()+h > ph-bottom {
		d.f.AddPage()
	}
}

// table draws rows under a header that is repeated on every page the
// table runs onto.
func (d *pdfDoc) table(cols []pdfColumn, rows [][]string) {
	header := func() {
		d.font("B", 8)
		d.f.SetFillColor(235, 235, 235)
		for _, c := range cols {
			d.f.CellFormat(c.width, 5, d.tr(c.title), "B", 0, c.align, true, 0, "")
		}
		d.f.Ln(-1)
		d.font("", 8)
	}
	d.need(10)
	header()
	if len(rows) == 0 {
		d.cell(0, 5, "none", "L", 1)
		return
	}
	for _, r := range rows {
		if _, ph := d.f.GetPageSize(); d.f.GetY()+4.5 > ph-14 {
			d.f.AddPage()
			header()
		}
		for i, c := range cols {
			d.f.CellFormat(c.width, 4.5, d.tr(pdfText(r[i])), "", 0, c.align, false, 0, "")
		}
		d.f.Ln(-1)
	}
}

// trend draws the heart rate per bin: mean, and the min and max bands.
func (d *pdfDoc) trend(p HolterPage) {
	const w, h = 190.0, 45.0
	d.need(h + 10)
	x0, y0 := 10.0, d.f.GetY()+2
	lo, hi := 40.0, 120.0
	for _, ys := range [][]float64{p.TrendMin, p.TrendMax} {
		for _, v := range ys {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, math.Floor(v/20)*20), math.Max(hi, math.Ceil(v/20)*20)
			}
		}
	}
	span := math.Max(p.RecordingSec, 1)
	d.f.SetDrawColor(200, 200, 200)
	d.f.SetLineWidth(0.1)
	d.font("", 6)
	for v := lo; v <= hi; v += 20 {
		y := y0 + h - (v-lo)/(hi-lo)*h
		d.f.Line(x0, y, x0+w, y)
		d.f.Text(x0-0.5-d.f.GetStringWidth(fmtNum(v, 0)), y+1, fmtNum(v, 0))
	}
	step := 3600.0
	if span <= 2*3600 {
		step = 600
	}
	for t := 0.0; t <= span; t += step {
		x := x0 + t/span*w
		d.f.Line(x, y0, x, y0+h)
		d.f.Text(x-3, y0+h+3, clock(t)[:5])
	}
	series := []struct {
		ys      []float64
		r, g, b int
		width   float64
	}{{p.TrendMax, 230, 150, 150, 0.2}, {p.TrendMin, 150, 150, 230, 0.2}, {p.TrendMean, 180, 0, 0, 0.35}}
	for _, s := range series {
		d.f.SetDrawColor(s.r, s.g, s.b)
		d.f.SetLineWidth(s.width)
		for i := 1; i < len(s.ys) && i < len(p.TrendT); i++ {
			a, b := s.ys[i-1], s.ys[i]
			if math.IsNaN(a) || math.IsNaN(b) {
				continue
			}
			d.f.Line(x0+p.TrendT[i-1]/span*w, y0+h-(a-lo)/(hi-lo)*h, x0+p.TrendT[i]/span*w, y0+h-(b-lo)/(hi-lo)*h)
		}
	}
	d.f.SetDrawColor(0, 0, 0)
	d.f.SetY(y0 + h + 5)
	d.font("", 7)
	d.cell(0, 4, fmt.Sprintf("Mean heart rate per %s (dark), with the slowest and fastest rate over 8 beats in it; bpm.", trendBinName(p.TrendBin)), "L", 1)
}

// strip draws one event's signal on ECG paper (1 mm minor, 5 mm major
// lines), with its title above and the beats' classes below.
func (d *pdfDoc) strip(es EventStrip) {
	const w, h = PDFStripSeconds * mmPerSecond, 40.0 // ±2 mV
	d.need(h + 14)
	e, s := es.Event, es.Strip
	d.font("B", 8)
	d.cell(0, 6, fmt.Sprintf("%s%s at %s: %s s, %d beats, %s (lead %s)", e.Kind, e.rvr(), clock(e.Start), fmtNum(e.Duration, 1), e.Beats, e.rate(), s.Lead), "L", 1)
	x0, y0 := 10.0, d.f.GetY()
	for mm := 0.0; mm <= w+1e-9; mm++ {
		major := math.Mod(mm, 5) == 0
		d.gridLine(major)
		d.f.Line(x0+mm, y0, x0+mm, y0+h)
	}
	for mm := 0.0; mm <= h+1e-9; mm++ {
		d.gridLine(math.Mod(mm, 5) == 0)
		d.f.Line(x0, y0+mm, x0+w, y0+mm)
	}
	// The strip's amplitude: mV at 10 mm/mV when the unit is mV (or µV),
	// otherwise the window's range fitted to the height.
	gain, mid := mmPerMV, 0.0
	switch strings.ToLower(s.Unit) {
	case "mv":
	case "uv", "µv":
		gain = mmPerMV / 1000
	default:
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range s.Samples {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi > lo {
			gain = 0.9 * h / (hi - lo)
		}
	}
	if len(s.Samples) > 0 { // the baseline: the median sample
		m := slices.Clone(s.Samples)
		slices.Sort(m)
		mid = m[len(m)/2]
	}
	// The event's span, as a bar along the top edge.
	if a, b := max(e.Start-s.From, 0), min(e.Start+e.Duration-s.From, PDFStripSeconds); b >= a {
		d.f.SetFillColor(60, 60, 160)
		d.f.Rect(x0+a*mmPerSecond, y0-1.2, math.Max((b-a)*mmPerSecond, 0.6), 1.2, "F")
	}
	d.f.ClipRect(x0, y0, w, h, false)
	d.f.SetDrawColor(0, 0, 0)
	d.f.SetLineWidth(0.2)
	yOf := func(v float64) float64 { return y0 + h/2 - (v-mid)*gain }
	for i := 1; i < len(s.Samples); i++ {
		t0 := s.Start + float64(i-1)/s.Rate - s.From
		t1 := s.Start + float64(i)/s.Rate - s.From
		d.f.Line(x0+t0*mmPerSecond, yOf(s.Samples[i-1]), x0+t1*mmPerSecond, yOf(s.Samples[i]))
	}
	d.f.ClipEnd()
	d.font("B", 6)
	for _, m := range s.Detected {
		x := x0 + (m.Time-s.From)*mmPerSecond
		if m.Label != "" && x >= x0 && x <= x0+w {
			d.f.Text(x-1, y0+h+3, d.tr(m.Label))
		}
	}
	d.f.SetY(y0 + h + 5)
}

func (d *pdfDoc) gridLine(major bool) {
	if major {
		d.f.SetDrawColor(240, 160, 160)
		d.f.SetLineWidth(0.15)
		return
	}
	d.f.SetDrawColor(250, 215, 215)
	d.f.SetLineWidth(0.05)
}

// pdfText replaces what cp1252 cannot hold by what reads the same.
var pdfText = strings.NewReplacer("≥", ">=", "≤", "<=", "→", "->", "\u2009", " ").Replace
