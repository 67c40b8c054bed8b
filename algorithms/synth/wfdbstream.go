package synth

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// datWriter streams frames of equal-rate channels into a WFDB signal file
// in format 16 or 212 and keeps what the header needs (first values and
// checksums), so that a record never has to be held whole to be written.
// The bytes are those of wfdb.WriteRecord (a test holds them equal).
type datWriter struct {
	w      *bufio.Writer
	format int
	lim    int64
	marker int64
	gains  []float64
	init   []int64
	sum    []int16
	frames int64
	half   []int64 // format 212: a sample waiting for its pair
	err    error
}

func newDatWriter(w io.Writer, format int, gains []float64) *datWriter {
	d := &datWriter{w: bufio.NewWriterSize(w, 64<<10), format: format, gains: gains, init: make([]int64, len(gains)), sum: make([]int16, len(gains))}
	d.lim, d.marker = 32767, -32768
	if format == 212 {
		d.lim, d.marker = 2047, -2048
	}
	return d
}

// put writes one frame of physical values (NaN for missing samples). It
// fails on a value its gain puts outside the format's range.
func (d *datWriter) put(frame []float64) error {
	for c, x := range frame {
		v := d.marker
		if !signal.IsMissing(x) {
			r := math.Round(x * d.gains[c])
			if math.IsInf(x, 0) || r < float64(-d.lim) || r > float64(d.lim) {
				return fmt.Errorf("channel %d sample %d: %v at gain %v gives %v ADC units, outside ±%d of format %d", c, d.frames, x, d.gains[c], r, d.lim, d.format)
			}
			v = int64(r)
		}
		if d.frames == 0 {
			d.init[c] = v
		}
		d.sum[c] += int16(v)
		d.emit(v)
	}
	d.frames++
	return nil
}

func (d *datWriter) emit(v int64) {
	if d.format == 16 {
		d.w.WriteByte(byte(v))
		d.w.WriteByte(byte(v >> 8))
		return
	}
	d.half = append(d.half, v)
	if len(d.half) == 2 {
		a, b := d.half[0]&0xfff, d.half[1]&0xfff
		d.w.WriteByte(byte(a))
		d.w.WriteByte(byte(a>>8) | byte(b>>8)<<4)
		d.w.WriteByte(byte(b))
		d.half = d.half[:0]
	}
}

// close pads format 212 to a whole 3-byte group and flushes.
func (d *datWriter) close() error {
	if len(d.half) == 1 {
		d.emit(0) // the header's sample count hides the pad
	}
	return d.w.Flush()
}

// header returns the record's header: one line for the record, one per
// channel with its gain, unit, first value, checksum and name.
func (d *datWriter) header(record string, rate float64, chans []signal.Channel) []byte {
	var h bytes.Buffer
	fmt.Fprintf(&h, "%s %d %s %d\n", record, len(chans), strconv.FormatFloat(rate, 'g', -1, 64), d.frames)
	bits := map[int]int{16: 16, 212: 12}[d.format]
	for i, c := range chans {
		gain := strconv.FormatFloat(d.gains[i], 'g', -1, 64) + "(0)"
		if u := strings.Join(strings.Fields(c.Unit), "_"); u != "" {
			gain += "/" + u
		}
		fmt.Fprintf(&h, "%s.dat %d %s %d 0 %d %d 0", record, d.format, gain, bits, d.init[i], d.sum[i])
		if desc := strings.Join(strings.Fields(c.Name), " "); desc != "" {
			h.WriteString(" " + desc)
		}
		h.WriteByte('\n')
	}
	return h.Bytes()
}

// csvWriter streams rows of pulsegrid's CSV dialect for channels of one
// rate: "time,NAME [UNIT],...", time in seconds, blank cells for missing
// samples.
type csvWriter struct {
	w    *bufio.Writer
	rate float64
	row  []byte
	next int
}

func newCSVWriter(w io.Writer, rate float64, chans []signal.Channel) (*csvWriter, error) {
	c := &csvWriter{w: bufio.NewWriterSize(w, 64<<10), rate: rate}
	c.row = append(c.row, "time"...)
	for _, ch := range chans {
		c.row = append(c.row, ","+ch.Name+" ["+ch.Unit+"]"...)
	}
	c.row = append(c.row, '\n')
	_, err := c.w.Write(c.row)
	return c, err
}

func (c *csvWriter) put(frame []float64) error {
	c.row = strconv.AppendFloat(c.row[:0], sampleTime(c.next, c.rate), 'f', -1, 64)
	for _, v := range frame {
		c.row = append(c.row, ',')
		if !signal.IsMissing(v) {
			c.row = strconv.AppendFloat(c.row, v, 'f', -1, 64)
		}
	}
	c.row = append(c.row, '\n')
	c.next++
	_, err := c.w.Write(c.row)
	return err
}

func (c *csvWriter) close() error { return c.w.Flush() }
