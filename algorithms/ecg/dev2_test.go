package ecg

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// refClasses returns the reference class of each detected beat (0 if none).
func refClasses(c *classCase) []Class {
	rate := c.mb.info.rate
	w := int64(0.150*rate + 0.5)
	out := make([]Class, len(c.mb.samples))
	j := 0
	for _, a := range c.ann {
		cl, ok := ClassOfCode(a.Code)
		if !ok {
			continue
		}
		for j < len(c.mb.samples) && c.mb.samples[j] < a.Sample-w {
			j++
		}
		if j < len(c.mb.samples) && c.mb.samples[j] <= a.Sample+w {
			out[j] = cl
		}
	}
	return out
}

func TestDevFamilies(t *testing.T) {
	if os.Getenv("PG_DEV2") == "" {
		t.Skip()
	}
	cs := mustClassCases(t)
	for _, name := range strings.Split(os.Getenv("PG_DEV2"), ",") {
		c := cs[name]
		f := newBeatFacts(c.mb)
		ref := refClasses(c)
		m := f.m
		cls := f.classes(defaultTuning)
		early := f.earlyFlags()
		fmt.Printf("== %s dominant %d families %d\n", name, m.dominant, len(m.tmpl))
		for fam := range m.tmpl {
			cnt := map[Class]int{}
			got := map[Class]int{}
			for i := range ref {
				if m.family[i] == fam {
					cnt[ref[i]]++
					got[cls[i]]++
					if early[i] {
						got['e']++
					}
				}
			}
			if m.size[fam] < 4 {
				continue
			}
			fmt.Printf("fam %2d n %4d corr %.2f full %.2f width %.2f amp %.2f  N%d S%d V%d F%d Q%d -%d\n", fam, m.size[fam], m.famCorr[fam], m.famFullCorr[fam], m.famWidth[fam], m.famAmp[fam],
				cnt[ClassN], cnt[ClassS], cnt[ClassV], cnt[ClassF], cnt[ClassQ], cnt[0])
			fmt.Printf("        got N%d S%d V%d early %d\n", got[ClassN], got[ClassS], got[ClassV], got['e'])
		}
	}
}
