package server_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// holterSample is sample i of channel ch of the generated long record, in
// ADC units; every 99,991st sample is WFDB's "invalid" marker.
func holterSample(ch, i int) int16 {
	if i%99991 == 17 {
		return -32768
	}
	return int16((i*7+ch*13)%2000 - 1000)
}

// writeHolter writes a WFDB record of hours of two-channel 360 Hz ECG in
// format 16 to dir, streaming, and returns the header and signal paths.
func writeHolter(t *testing.T, dir string, hours float64) (hea, dat string, frames int) {
	t.Helper()
	frames = int(hours * 3600 * 360)
	dat = filepath.Join(dir, "holter.dat")
	f, err := os.Create(dat)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var sums [2]int16
	var b [4]byte
	for i := range frames {
		for ch := range 2 {
			v := holterSample(ch, i)
			sums[ch] += v
			binary.LittleEndian.PutUint16(b[2*ch:], uint16(v))
		}
		w.Write(b[:])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	hea = filepath.Join(dir, "holter.hea")
	header := fmt.Sprintf("holter 2 360 %d\nholter.dat 16 200/mV 16 0 %d %d 0 MLII\nholter.dat 16 200/mV 16 0 %d %d 0 V1\n",
		frames, holterSample(0, 0), sums[0], holterSample(1, 0), sums[1])
	if err := os.WriteFile(hea, []byte(header), 0o600); err != nil {
		t.Fatal(err)
	}
	return hea, dat, frames
}

// TestLongRecordUploadStreams uploads six hours of two-channel ECG (15.6 M
// samples, 124 MB as float64) and checks that the server never holds the
// signal in its heap: the upload streams from disk through the reader and
// the template into stored segments. Before segments, the same upload
// peaked at several times the float64 size.
func TestLongRecordUploadStreams(t *testing.T) {
	hours := 6.0
	if testing.Short() {
		hours = 1
	}
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	token := ts.user("holter@example.org", "clinician")
	hea, dat, frames := writeHolter(t, t.TempDir(), hours)
	float64Bytes := uint64(2 * frames * 8)

	// The multipart body streams from the files too.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, p := range []string{hea, dat} {
			fw, _ := mw.CreateFormFile("files", filepath.Base(p))
			f, err := os.Open(p)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			io.Copy(fw, f)
			f.Close()
		}
		mw.WriteField("template", "ecg")
		pw.CloseWithError(mw.Close())
	}()

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()
	start := time.Now()
	code, body := ts.do("POST", "/api/v1/datasets", token, pr, mw.FormDataContentType())
	close(stop)
	<-sampled
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	growth := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("%.0f h, %d samples: uploaded in %v, peak heap growth %.1f MB (the signal as float64: %.0f MB)",
		hours, 2*frames, time.Since(start).Round(time.Millisecond), float64(growth)/1e6, float64(float64Bytes)/1e6)
	if growth > int64(float64Bytes/3) {
		t.Errorf("heap grew by %.1f MB during the upload: the signal (%.0f MB as float64) was held in memory", float64(growth)/1e6, float64(float64Bytes)/1e6)
	}

	var ds struct {
		ID       int64
		Channels []struct{ Samples int }
		Duration float64 `json:"duration_seconds"`
	}
	if err := json.Unmarshal(body, &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Channels) != 2 || ds.Channels[0].Samples != frames || ds.Duration != hours*3600 {
		t.Fatalf("stored dataset: %s", body)
	}
	// What is stored is what the file says, around segment edges too.
	for ch := range 2 {
		for _, from := range []int64{0, 65536 - 5, int64(frames) / 2, int64(frames) - 9} {
			got, err := ts.st.DatasetSamples(context.Background(), ds.ID, ch, from, from+10)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range got {
				i := int(from) + k
				want := float64(holterSample(ch, i)) / 200
				if holterSample(ch, i) == -32768 {
					want = math.NaN()
				}
				if !(v == want || (v != v && want != want)) {
					t.Fatalf("channel %d sample %d: stored %v, want %v", ch, i, v, want)
				}
			}
		}
	}
}
