package server

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/static"
)

// progressJSFields returns PROGRESS_FIELDS of static/js/progress.js and
// every field the script reads from the progress object (p.NAME).
func progressJSFields(t *testing.T) (listed, read []string) {
	t.Helper()
	b, err := static.Files.ReadFile("js/progress.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	m := regexp.MustCompile(`(?s)PROGRESS_FIELDS = \[(.*?)\]`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("progress.js has no PROGRESS_FIELDS = [...]")
	}
	for _, q := range regexp.MustCompile(`'([a-z_]+)'`).FindAllStringSubmatch(m[1], -1) {
		listed = append(listed, q[1])
	}
	for _, q := range regexp.MustCompile(`\bp\.([a-z_]+)`).FindAllStringSubmatch(src, -1) {
		if !slices.Contains(read, q[1]) {
			read = append(read, q[1])
		}
	}
	return listed, read
}

func jsonTags(v any) []string {
	var tags []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		tags = append(tags, name)
	}
	return tags
}

// TestProgressContract: the fields progress.js reads are exactly the ones
// the API sends in "progress", and the script reads every one of them.
func TestProgressContract(t *testing.T) {
	listed, read := progressJSFields(t)
	tags := jsonTags(progressJSON{})
	if !slices.Equal(slices.Sorted(slices.Values(listed)), slices.Sorted(slices.Values(tags))) {
		t.Errorf("PROGRESS_FIELDS in progress.js: got %v, want the json tags of progressJSON %v", listed, tags)
	}
	for _, f := range read {
		if !slices.Contains(tags, f) {
			t.Errorf("progress.js reads progress.%s, which the API does not send", f)
		}
	}
	// batch.js reads a few of the same fields for each analysis of a batch.
	b, err := static.Files.ReadFile("js/batch.js")
	if err != nil {
		t.Fatal(err)
	}
	batchReads := regexp.MustCompile(`\bp\.([a-z_]+)`).FindAllStringSubmatch(string(b), -1)
	if len(batchReads) == 0 {
		t.Error("batch.js reads no progress field")
	}
	for _, q := range batchReads {
		if !slices.Contains(tags, q[1]) {
			t.Errorf("batch.js reads progress.%s, which the API does not send", q[1])
		}
	}
	for _, f := range tags {
		if !slices.Contains(read, f) {
			t.Errorf("progress.js never reads progress.%s", f)
		}
	}
	// The two top-level fields it reads are in the analysis answer.
	top := jsonTags(analysisJSON{})
	for _, f := range []string{"status", "error", "progress"} {
		if !slices.Contains(top, f) {
			t.Errorf("analysisJSON has no %q field, which progress.js reads", f)
		}
	}
}
