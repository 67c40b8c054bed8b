package server

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/static"
)

// flatTags are the json names of t's fields, the fields of embedded
// structs included (as encoding/json flattens them).
func flatTags(rt reflect.Type) []string {
	var tags []string
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			tags = append(tags, flatTags(f.Type)...)
			continue
		}
		tags = append(tags, name)
	}
	return tags
}

// TestGridContract: each field list of static/js/grid.js is the json tags
// of the Go type the API sends, and the script reads no field of the
// answer (g), a queue row (q), a node (n) or a minute (m) outside them.
func TestGridContract(t *testing.T) {
	b, err := static.Files.ReadFile("js/grid.js")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	for _, c := range []struct {
		list, v string
		typ     reflect.Type
	}{
		{"GRID_FIELDS", "g", reflect.TypeOf(gridJSON{})},
		{"QUEUE_FIELDS", "q", reflect.TypeOf(queueJSON{})},
		{"NODE_FIELDS", "n", reflect.TypeOf(nodeJSON{})},
		{"MINUTE_FIELDS", "m", reflect.TypeOf(grid.Minute{})},
	} {
		t.Run(c.list, func(t *testing.T) {
			m := regexp.MustCompile(`(?s)` + c.list + ` = \[(.*?)\]`).FindStringSubmatch(src)
			if m == nil {
				t.Fatalf("grid.js has no %s = [...]", c.list)
			}
			var listed []string
			for _, q := range regexp.MustCompile(`'([a-z_]+)'`).FindAllStringSubmatch(m[1], -1) {
				listed = append(listed, q[1])
			}
			tags := flatTags(c.typ)
			if !slices.Equal(slices.Sorted(slices.Values(listed)), slices.Sorted(slices.Values(tags))) {
				t.Errorf("%s in grid.js: got %v, want the json tags of %v: %v", c.list, listed, c.typ, tags)
			}
			reads := regexp.MustCompile(`\b`+c.v+`\.([a-z_]+)\b`).FindAllStringSubmatch(src, -1)
			if len(reads) == 0 {
				t.Errorf("grid.js reads no %s.field", c.v)
			}
			for _, q := range reads {
				if !slices.Contains(tags, q[1]) {
					t.Errorf("grid.js reads %s.%s, which %v does not send", c.v, q[1], c.typ)
				}
			}
		})
	}
}
