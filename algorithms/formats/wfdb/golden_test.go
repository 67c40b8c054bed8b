package wfdb

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/internal/golden"
)

// TestGoldenDecode pins a digest of the physical values decoded from the
// testdata records (float64 bits, channel by channel), natively, under
// js/wasm and with FMA fusion allowed: every platform must decode the same.
func TestGoldenDecode(t *testing.T) {
	var got strings.Builder
	for _, h := range []string{"100s.hea", "041s.hea", "s25047-2704-05-04-10-44n.hea"} {
		rec := MustReadRecord(t, "testdata", h)
		d := sha256.New()
		for _, c := range rec.Signal.Channels {
			fmt.Fprintf(d, "%s|%s|%v|%v|", c.Name, c.Unit, c.Rate, c.Gain)
			for _, v := range c.Samples {
				d.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(v)))
			}
		}
		fmt.Fprintf(&got, "%s %s\n", h, hex.EncodeToString(d.Sum(nil)))
	}
	golden.Check(t, "testdata/golden.txt", got.String())
}
