package server

import (
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

func TestLRUKeepsTheMostRecentlyUsed(t *testing.T) {
	c := newLRU[cacheKey, pipeline.Result](cacheSize)
	at := time.Unix(100, 0)
	for i := range cacheSize {
		c.put(cacheKey{int64(i), at}, &ecg.BeatsResult{LeadIndex: i})
	}
	if _, ok := c.get(cacheKey{0, at}); !ok { // 0 is now the most recent
		t.Fatal("entry 0 missing")
	}
	c.put(cacheKey{99, at}, &ecg.BeatsResult{})
	if _, ok := c.get(cacheKey{1, at}); ok {
		t.Error("the least recently used entry (1) was kept past the limit")
	}
	if r, ok := c.get(cacheKey{0, at}); !ok || r.(*ecg.BeatsResult).LeadIndex != 0 {
		t.Error("a recently used entry was evicted")
	}
	if _, ok := c.get(cacheKey{0, at.Add(time.Second)}); ok {
		t.Error("an entry matched another finish time (a reused id)")
	}
	var none *lru[cacheKey, pipeline.Result]
	none.put(cacheKey{1, at}, nil)
	if _, ok := none.get(cacheKey{1, at}); ok {
		t.Error("a nil cache returned something")
	}
}
