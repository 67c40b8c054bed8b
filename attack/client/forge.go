package client

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// beatsOutputMagic tags an ecg.beats chunk output: a canon I64s of beat
// samples relative to the task's first sample. The constant is unexported
// in algorithms/ecg and undocumented in docs/protocol.md; an attacker reads
// it from the open source.
const beatsOutputMagic = "PGBEATS1"

// Forge says how a lie is made.
type Forge int

const (
	// ForgeCollude forges the same way in every identity, so colluders'
	// digests agree: for ecg.beats the honest beats with every second one
	// removed (re-encoded canonically, so it merges into a plausible
	// result at half the heart rate); for other outputs the middle byte
	// flipped.
	ForgeCollude Forge = iota
	// ForgeSolo forges differently in each identity (by its seed), so
	// independent liars never agree with each other: one beat moved later
	// by 1 + seed%7 samples (or one byte flipped) at a position chosen by
	// the seed.
	ForgeSolo
)

// forgeOutput returns a lie in place of the honest output out of task. It
// never returns out unchanged.
func forgeOutput(task *pipeline.Task, out []byte, mode Forge, seed uint64) []byte {
	if beats, err := ecg.DecodeBeatsOutput(out); err == nil {
		return encodeBeats(forgeBeats(task, beats, mode, seed))
	}
	forged := append([]byte(nil), out...)
	if len(forged) == 0 {
		return []byte{0x5a}
	}
	i, x := len(forged)/2, byte(0x5a)
	if mode == ForgeSolo {
		i, x = int(seed%uint64(len(forged))), byte(1+seed%255)
	}
	forged[i] ^= x
	return forged
}

// forgeBeats keeps every beat in order and inside the owned samples, so
// the server's merge accepts the lie.
func forgeBeats(task *pipeline.Task, beats []int64, mode Forge, seed uint64) []int64 {
	if len(beats) == 0 {
		// Nothing to remove: invent one beat in the middle of the task,
		// which lies inside the chunk's owned samples (the lead-in and
		// lead-out are a few seconds, the owned part at least a minute).
		n := int64(0)
		if len(task.Channels) > 0 {
			n = int64(len(task.Channels[0].Samples))
		}
		at := n / 2
		if mode == ForgeSolo {
			at += int64(seed % 64)
		}
		return []int64{at}
	}
	var kept []int64
	switch mode {
	case ForgeSolo:
		if len(beats) == 1 {
			return nil
		}
		// Never the last beat, which may sit just before the end of the
		// owned samples; the next beat is a refractory period (hundreds of
		// milliseconds) away, so the order holds.
		kept = append(kept, beats...)
		i := int(seed % uint64(len(beats)-1))
		kept[i] += int64(1 + seed%7)
	default:
		for i, b := range beats {
			if i%2 == 0 {
				kept = append(kept, b)
			}
		}
		if len(beats) == 1 {
			kept = nil
		}
	}
	return kept
}

func encodeBeats(beats []int64) []byte {
	w := canon.NewWriter(beatsOutputMagic)
	w.I64s(beats)
	return w.Bytes()
}

// ChunkKey names a chunk input by what any server must send for it: the
// algorithm's framing (Task.Aux) and every sample's bits, whatever the
// channel's name, unit or sample encoding. A harness that splits the same
// record computes the same keys, and so learns which chunks were lied on.
func ChunkKey(t *pipeline.Task) string {
	h := sha256.New()
	h.Write([]byte(t.Algorithm))
	h.Write([]byte{0})
	h.Write(t.Aux)
	var b [8]byte
	for _, c := range t.Channels {
		binary.LittleEndian.PutUint64(b[:], uint64(len(c.Samples)))
		h.Write(b[:])
		for _, v := range c.Samples {
			binary.LittleEndian.PutUint64(b[:], canon.Float64Bits(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
