package ecg

import (
	"fmt"
	"os"
	"testing"
)

func TestDevS(t *testing.T) {
	if os.Getenv("PG_DEV5") == "" {
		t.Skip()
	}
	cs := mustClassCases(t)
	c := cs[os.Getenv("PG_DEV5")]
	res := classifyBeats(DefaultClassifyParams(), c.mb)
	f := newBeatFacts(c.mb)
	ref := refClasses(c)
	k := 0
	for i, b := range res.Beats {
		if ref[i] == ClassS && b.Class != ClassS && k < 40 {
			k++
			ctx := ""
			for j := max(0, i-3); j <= min(len(ref)-1, i+3); j++ {
				ctx += fmt.Sprintf("%c%c%.2f ", ref[j], res.Beats[j].Class, f.pre[j])
			}
			fmt.Printf("t %.1f pre %.3f post %.3f local %.3f corr %.2f fam %d  %s\n", b.Time, f.pre[i], f.post[i], f.local[i], f.m.corr[i], f.m.family[i], ctx)
		}
	}
}
