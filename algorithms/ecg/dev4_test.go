package ecg

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

func TestDevBeats(t *testing.T) {
	if os.Getenv("PG_DEV4") == "" {
		t.Skip()
	}
	cs := mustClassCases(t)
	c := cs[os.Getenv("PG_DEV4")]
	fam, _ := strconv.Atoi(os.Getenv("FAM"))
	f := newBeatFacts(c.mb)
	ref := refClasses(c)
	m := f.m
	odd := make([]bool, len(f.pre))
	for i := range odd {
		odd[i] = m.famCorr[m.family[i]] < 0.9
	}
	r := f.localRR(odd)
	k := 0
	for i := range f.pre {
		if m.family[i] == fam && k < 25 {
			k++
			ctx := ""
			for j := max(0, i-3); j <= min(len(ref)-1, i+3); j++ {
				ctx += fmt.Sprintf("%c%d ", ref[j], m.family[j])
			}
			fmt.Printf("t %.1f pre %.3f post %.3f ref %.3f local %.3f  %s\n", float64(c.mb.samples[i])/360, f.pre[i], f.post[i], r[i], f.local[i], ctx)
		}
	}
}
