package export

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

type plain struct {
	N int `json:"n"`
}

func (p plain) Summary() string      { return "plain" }
func (p plain) CSV() ([]byte, error) { return []byte("n\n1\n"), nil }

type events struct{ plain }

func (events) Annotations() ([]signal.Annotation, float64) {
	return []signal.Annotation{{Sample: 10, Code: signal.CodeNormal}, {Sample: 370, Code: signal.CodePVC}}, 360
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name, format string
		res          interface {
			Summary() string
			CSV() ([]byte, error)
		}
		want, ext string
		err       error
	}{
		{"JSON", "json", plain{N: 1}, "{\n \"n\": 1\n}\n", ".json", nil},
		{"CSV", "csv", plain{N: 1}, "n\n1\n", ".csv", nil},
		{"ErrWFDBWithoutEvents", "wfdb", plain{}, "", "", ErrNoEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Encode(tc.res, tc.format)
			if !errors.Is(err, tc.err) {
				t.Fatalf("got error %v, want %v", err, tc.err)
			}
			if string(f.Data) != tc.want || f.Ext != tc.ext {
				t.Errorf("got %q (%s), want %q (%s)", f.Data, f.Ext, tc.want, tc.ext)
			}
		})
	}
}

func TestEncodeWFDBRoundTrips(t *testing.T) {
	f, err := Encode(events{}, "wfdb")
	if err != nil {
		t.Fatal(err)
	}
	anns, err := wfdb.ReadAnnotations("x.atr", f.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 2 || anns[1].Sample != 370 || anns[1].Code != signal.CodePVC {
		t.Errorf("got %+v, want beats at 10 (N) and 370 (V)", anns)
	}
	if !bytes.Equal(f.Data, wfdb.WriteAnnotations([]signal.Annotation{{Sample: 10, Code: 1}, {Sample: 370, Code: 5}})) {
		t.Errorf("export differs from the WFDB writer's bytes")
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := Encode(plain{}, "xml"); err == nil || !strings.Contains(err.Error(), "want json, csv or wfdb") {
		t.Errorf("got %v, want an error naming the formats", err)
	}
	if Valid("xml") || !Valid("csv") {
		t.Errorf("Valid disagrees with Encode")
	}
}
