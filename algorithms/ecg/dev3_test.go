package ecg

import (
	"fmt"
	"os"
	"testing"
)

func TestDevConfusion(t *testing.T) {
	if os.Getenv("PG_DEV3") == "" {
		t.Skip()
	}
	cs := mustClassCases(t)
	for _, name := range ds1 {
		c := cs[name]
		res := classifyBeats(DefaultClassifyParams(), c.mb)
		ref := refClasses(c)
		conf := map[[2]Class]int{}
		for i, b := range res.Beats {
			if b.Sample < int64(300*c.mb.info.rate) {
				continue
			}
			conf[[2]Class{ref[i], b.Class}]++
		}
		fmt.Printf("%s ", name)
		for _, r := range []Class{ClassN, ClassS, ClassV, ClassF, ClassQ, 0} {
			for _, g := range []Class{ClassN, ClassS, ClassV} {
				if r != g && conf[[2]Class{r, g}] > 0 {
					fmt.Printf(" %c>%c:%d", max(r, '-'), g, conf[[2]Class{r, g}])
				}
			}
		}
		fmt.Println()
	}
}
