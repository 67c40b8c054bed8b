package ecg

import (
	"fmt"
	"os"
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
		fmt.Printf("%s AF %.0f s of %.0f; %v\n", name, res.Rhythm.AFSeconds, res.Rhythm.AnalysedSeconds, res.Rhythm.Counts)
	}
	fmt.Print(ec57Table(ds1, veb, sveb))
}
