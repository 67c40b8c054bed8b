package formats

import (
	"fmt"
	"strings"
	"testing"
)

// TestSignalFileNamedByHeader: the header names its signal files, so a
// signal file not called .dat (PTB's .xyz, a .d0, no extension) is read
// when its header comes with it, by Open and ReadWith alike, and refused
// as an unknown type without it.
func TestSignalFileNamedByHeader(t *testing.T) {
	dat := []byte{0x10, 0x00, 0x20, 0x00, 0x30, 0x00}
	for _, name := range []string{"s0010_re.xyz", "rec.d0", "rec.D12"} {
		t.Run(name, func(t *testing.T) {
			files := []File{
				{Name: "rec.hea", Data: []byte("rec 1 1000 3\n" + name + " 16 200 16 0 0 96 0 vx\n")},
				{Name: name, Data: dat},
			}
			if err := checkOpen(t, files, Options{}); err != nil {
				t.Fatal(err)
			}
			rec, err := ReadWith(files, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if s := rec.Signal.Channels[0].Samples; len(s) != 3 || s[2] != 0.24 {
				t.Errorf("got %v, want [0.08 0.16 0.24]", s)
			}
			kinds, errs := DetectAll(files)
			if kinds[1] != KindWFDB || errs[1] != nil {
				t.Errorf("DetectAll: %s is %q (%v), want wfdb", name, kinds[1], errs[1])
			}
			if _, err := Open(files[1:], Options{}); err == nil || !strings.Contains(err.Error(), "unknown file type") {
				t.Errorf("%s without its header: got %v, want an unknown file type", name, err)
			}
		})
	}
}

// TestMaxChannels: a recording of more than MaxChannels channels is
// refused in every format, naming the limit.
func TestMaxChannels(t *testing.T) {
	var hea strings.Builder
	fmt.Fprintf(&hea, "wide %d 250 1\n", MaxChannels+1)
	for i := range MaxChannels + 1 {
		fmt.Fprintf(&hea, "wide.dat 16 200 16 0 0 0 0 c%d\n", i)
	}
	wfdbFiles := []File{{Name: "wide.hea", Data: []byte(hea.String())}, {Name: "wide.dat", Data: make([]byte, 2*(MaxChannels+1))}}
	csv := "time" + strings.Repeat(",x", MaxChannels+1)
	for name, files := range map[string][]File{
		"WFDB": wfdbFiles,
		"CSV":  {{Name: "wide.csv", Data: []byte(strings.Replace(csv, ",x", ",y", 1) + "\n0" + strings.Repeat(",1", MaxChannels+1) + "\n")}},
	} {
		_, err := Open(files, Options{})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("at most %d", MaxChannels)) {
			t.Errorf("%s with %d channels: got %v, want refused naming the limit", name, MaxChannels+1, err)
		}
	}
	// One fewer is fine.
	hea.Reset()
	fmt.Fprintf(&hea, "wide %d 250 1\n", MaxChannels)
	for i := range MaxChannels {
		fmt.Fprintf(&hea, "wide.dat 16 200 16 0 0 0 0 c%d\n", i)
	}
	if _, err := Open([]File{{Name: "wide.hea", Data: []byte(hea.String())}, {Name: "wide.dat", Data: make([]byte, 2*MaxChannels)}}, Options{}); err != nil {
		t.Errorf("%d channels: %v", MaxChannels, err)
	}
}
