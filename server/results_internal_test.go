package server

import (
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
)

func TestResultCacheKeepsTheMostRecentlyUsed(t *testing.T) {
	c := &resultCache{}
	at := time.Unix(100, 0)
	for i := range resultCacheSize {
		c.put(resultKey{int64(i), at}, &ecg.BeatsResult{LeadIndex: i})
	}
	if _, ok := c.get(resultKey{0, at}); !ok { // 0 is now the most recent
		t.Fatal("entry 0 missing")
	}
	c.put(resultKey{99, at}, &ecg.BeatsResult{})
	if _, ok := c.get(resultKey{1, at}); ok {
		t.Error("the least recently used entry (1) was kept past the limit")
	}
	if r, ok := c.get(resultKey{0, at}); !ok || r.(*ecg.BeatsResult).LeadIndex != 0 {
		t.Error("a recently used entry was evicted")
	}
	if _, ok := c.get(resultKey{0, at.Add(time.Second)}); ok {
		t.Error("an entry matched another finish time (a reused id)")
	}
	var none *resultCache
	none.put(resultKey{1, at}, nil)
	if _, ok := none.get(resultKey{1, at}); ok {
		t.Error("a nil cache returned something")
	}
}
