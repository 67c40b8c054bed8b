package hrv

import (
	"fmt"
	"math"
	"strconv"
)

// MinSpectralPower is the total power (ms²) below which the frequency
// domain is not computable: every band would read 0.0 and their ratios
// (LF/HF, normalized units) would be ratios of rounding noise, as on a
// paced or generated signal (an EDF test generator gives LF/HF 0.4 and
// 30.6/69.4 n.u. from powers that round to 0).
const MinSpectralPower = 0.1

// SpectrumProblem says why the frequency-domain measures (VLF, LF, HF,
// total power, LF/HF, LF and HF n.u.) cannot be reported: brief for a
// summary line or a CSV note ("flat spectrum: total power 0.04 ms²"),
// detail for a page. Both are "" when they can. The summary, the CSV and
// the portal all use it, so that none reports a ratio the others withhold.
func (r *ECGResult) SpectrumProblem() (brief, detail string) {
	switch {
	case r.Windows == 0 && r.Options.WindowSeconds > 0:
		w := fmtSeconds(r.Options.WindowSeconds)
		return fmt.Sprintf("no %s window with enough NN intervals", w),
			fmt.Sprintf("no %s window of the recording has NN intervals covering at least %g %% of it (the recording is too short, or too many beats were excluded).",
				w, 100*r.Options.MinCoverage)
	case r.Windows == 0:
		return "too few NN intervals", "too few NN intervals for a spectrum."
	case !(r.TotalPower >= MinSpectralPower):
		p := strconv.FormatFloat(r.TotalPower, 'g', 2, 64)
		return fmt.Sprintf("flat spectrum: total power %s ms²", p),
			fmt.Sprintf("the total spectral power is %s ms² (below %s ms²): the RR intervals barely vary, as in a paced or generated signal, so the band powers are 0 and their ratios mean nothing.",
				p, strconv.FormatFloat(MinSpectralPower, 'f', -1, 64))
	}
	return "", ""
}

// IsSpectral tells whether a CSV measure key is a frequency-domain one,
// withheld when SpectrumProblem says so.
func IsSpectral(key string) bool {
	switch key {
	case "vlf", "lf", "hf", "total_power", "lf_hf", "lf_nu", "hf_nu":
		return true
	}
	return false
}

// fmtSeconds writes a window length: "300 s" as "5 min".
func fmtSeconds(s float64) string {
	if s >= 60 && math.Mod(s, 60) == 0 {
		return strconv.FormatFloat(s/60, 'f', -1, 64) + " min"
	}
	return strconv.FormatFloat(s, 'f', -1, 64) + " s"
}
