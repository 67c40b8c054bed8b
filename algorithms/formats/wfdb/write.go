package wfdb

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// autoGains are the gains WriteRecord picks from, largest first, for a
// channel without one: powers of ten keep the header readable and the
// physical values of round numbers exact.
var autoGains = []float64{1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 100, 10, 1, 0.1, 0.01, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9}

// WriteRecord encodes sig as a WFDB record called record: a header and one
// signal file, record+".dat", in format 16 or 212. A channel's Gain is used
// when set (baseline 0); otherwise the largest power of ten that fits its
// values in the format is chosen. Channels at a multiple of the lowest rate
// get that many samples per frame; shorter channels are padded with missing
// samples, which, like NaN, are written as the format's invalid marker.
// Identifying fields (base date and time) are deliberately not written.
func WriteRecord(record string, sig *signal.Signal, format int) (header []byte, dat []byte, err error) {
	if err := checkName(record); err != nil || strings.ContainsAny(record, " \t\r\n") {
		return nil, nil, fmt.Errorf("record name %q: expected a plain name without blanks or directories", record)
	}
	var lim int64
	switch format {
	case 16:
		lim = 32767
	case 212:
		lim = 2047
	default:
		return nil, nil, fmt.Errorf("format %d: WriteRecord writes formats 16 and 212", format)
	}
	if len(sig.Channels) == 0 {
		return nil, nil, fmt.Errorf("record %s: no channels to write", record)
	}
	frameRate := math.Inf(1)
	for i, c := range sig.Channels {
		if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
			return nil, nil, fmt.Errorf("channel %d (%q): sample rate %v is not a positive number", i, c.Name, c.Rate)
		}
		frameRate = min(frameRate, c.Rate)
	}
	spf := make([]int64, len(sig.Channels))
	var nframes int64
	for i, c := range sig.Channels {
		k := math.Round(c.Rate / frameRate)
		if math.Abs(c.Rate/frameRate-k) > 1e-9*k || k > 1<<16 {
			return nil, nil, fmt.Errorf("channel %d (%q): rate %v Hz is not a whole multiple of the lowest rate %v Hz, which one WFDB record needs", i, c.Name, c.Rate, frameRate)
		}
		spf[i] = int64(k)
		nframes = max(nframes, (int64(len(c.Samples))+spf[i]-1)/spf[i])
	}
	marker := int64(invalid[format])
	adc := make([][]int64, len(sig.Channels))
	gains := make([]float64, len(sig.Channels))
	for i, c := range sig.Channels {
		g := c.Gain
		if !(g > 0) || math.IsInf(g, 0) {
			g = pickGain(c.Samples, lim)
		}
		gains[i] = g
		vals := make([]int64, nframes*spf[i])
		for j := range vals {
			if j >= len(c.Samples) || signal.IsMissing(c.Samples[j]) {
				vals[j] = marker
				continue
			}
			x := c.Samples[j]
			v := math.Round(x * g)
			if math.IsInf(x, 0) || v < float64(-lim) || v > float64(lim) {
				return nil, nil, fmt.Errorf("channel %d (%q) sample %d: %s at gain %v gives %v ADC units, outside ±%d of format %d; lower the channel's Gain", i, c.Name, j, strings.TrimSpace(fmt.Sprint(x, " ", c.Unit)), g, v, lim, format)
			}
			vals[j] = int64(v)
		}
		adc[i] = vals
	}

	var d bytes.Buffer
	var pending []int64 // format 212 packs samples in pairs
	emit := func(v int64) {
		switch format {
		case 16:
			d.WriteByte(byte(v))
			d.WriteByte(byte(v >> 8))
		case 212:
			pending = append(pending, v)
			if len(pending) == 2 {
				a, b := pending[0]&0xfff, pending[1]&0xfff
				d.WriteByte(byte(a))
				d.WriteByte(byte(a>>8) | byte(b>>8)<<4)
				d.WriteByte(byte(b))
				pending = pending[:0]
			}
		}
	}
	for f := int64(0); f < nframes; f++ {
		for i := range sig.Channels {
			for _, v := range adc[i][f*spf[i] : (f+1)*spf[i]] {
				emit(v)
			}
		}
	}
	if len(pending) == 1 {
		emit(0) // a full 3-byte group; the header's sample count hides the pad
	}

	var h bytes.Buffer
	fmt.Fprintf(&h, "%s %d %s %d\n", record, len(sig.Channels), strconv.FormatFloat(frameRate, 'g', -1, 64), nframes)
	bits := formatBits[format]
	for i, c := range sig.Channels {
		var sum int16
		for _, v := range adc[i] {
			sum += int16(v)
		}
		init := int64(0)
		if len(adc[i]) > 0 {
			init = adc[i][0]
		}
		fmtField := strconv.Itoa(format)
		if spf[i] > 1 {
			fmtField += "x" + strconv.FormatInt(spf[i], 10)
		}
		gain := strconv.FormatFloat(gains[i], 'g', -1, 64) + "(0)"
		if u := strings.Join(strings.Fields(c.Unit), "_"); u != "" {
			gain += "/" + u
		}
		desc := strings.Join(strings.Fields(c.Name), " ")
		fmt.Fprintf(&h, "%s.dat %s %s %d 0 %d %d 0", record, fmtField, gain, bits, init, sum)
		if desc != "" {
			h.WriteString(" " + desc)
		}
		h.WriteByte('\n')
	}
	return h.Bytes(), d.Bytes(), nil
}

// pickGain returns the largest of autoGains at which every finite sample
// fits within ±lim ADC units.
func pickGain(samples []float64, lim int64) float64 {
	var m float64
	for _, x := range samples {
		if !signal.IsMissing(x) && !math.IsInf(x, 0) {
			m = max(m, math.Abs(x))
		}
	}
	for _, g := range autoGains {
		if math.Round(m*g) <= float64(lim) {
			return g
		}
	}
	return autoGains[len(autoGains)-1]
}
