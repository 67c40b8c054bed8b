package server_test

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid"
	"github.com/pulsegrid/pulsegrid/static"
)

// TestScriptsSpeakTheVocabulary: the browser's scripts list the analysis
// statuses too (which ones are final, which one has a result); every such
// list and comparison must use the statuses of vocabulary.go. A script
// that stops polling on 'canceled', or a Go status renamed without its
// script, fails here.
func TestScriptsSpeakTheVocabulary(t *testing.T) {
	terminal := regexp.MustCompile(`const TERMINAL = new Set\(\[([^\]]*)\]\)`)
	compared := regexp.MustCompile(`\bstatus\s*[!=]==?\s*'([a-z_]+)'`)
	quoted := regexp.MustCompile(`'([^']*)'`)
	lists := 0
	err := fs.WalkDir(static.Files, "js", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		b, err := static.Files.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range terminal.FindAllStringSubmatch(string(b), -1) {
			lists++
			var got []string
			for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
				got = append(got, q[1])
			}
			if want := pulsegrid.FinishedStatuses; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
				t.Errorf("%s: TERMINAL is %q, want the finished statuses %q", path, got, want)
			}
		}
		for _, m := range compared.FindAllStringSubmatch(string(b), -1) {
			if !slices.Contains(pulsegrid.Statuses, m[1]) {
				t.Errorf("%s compares a status with %q, which is not one of %q", path, m[1], pulsegrid.Statuses)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lists < 2 {
		t.Errorf("found %d TERMINAL lists in static/js, want those of progress.js and batch.js", lists)
	}
}
