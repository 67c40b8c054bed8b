package ecg

import (
	"fmt"
	"os"
	"slices"
	"testing"
)

func TestDevFeatures(t *testing.T) {
	if os.Getenv("PG_DEV") == "" {
		t.Skip()
	}
	cs := mustClassCases(t)
	veb, sveb := map[string]ec57{}, map[string]ec57{}
	for _, name := range ds1 {
		c := cs[name]
		res := classifyBeats(DefaultClassifyParams(), c.mb)
		veb[name], sveb[name] = scoreClasses(c.ann, res.Beats, c.mb.info.rate)
	}
	fmt.Print(ec57Table(ds1, veb, sveb))
	_ = slices.Sort[[]float64]
}
