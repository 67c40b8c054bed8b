package views

import (
	"strconv"
	"strings"
)

// checkText says what a template checks of one kind of channel:
// "bpm; plausible 10 to 300, kept and reported outside; any rate".
func checkText(c ChannelCheck) string {
	parts := []string{c.Unit}
	if c.Unit == "" {
		parts[0] = "any unit"
	}
	bound := func(v *float64) string { return strings.Replace(fmtNum(*v, -1), "-", "−", 1) }
	var rng string
	switch {
	case c.Min != nil && c.Max != nil:
		rng = bound(c.Min) + " to " + bound(c.Max)
	case c.Min != nil:
		rng = "at least " + bound(c.Min)
	case c.Max != nil:
		rng = "at most " + bound(c.Max)
	}
	if rng != "" {
		outside := map[string]string{"missing": "marked missing outside", "reject": "the file is refused outside", "keep": "kept and reported outside"}[c.OutOfRange]
		if outside == "" {
			outside = "marked missing outside"
		}
		parts = append(parts, "plausible "+rng+", "+outside)
	}
	if c.MinRate > 0 {
		parts = append(parts, "at least "+fmtRate(c.MinRate)+" Hz")
	} else {
		parts = append(parts, "any rate")
	}
	return strings.Join(parts, "; ")
}

// aliasText lists a rule's other channel names, the first few of many.
func aliasText(aliases []string) string {
	const shown = 6
	if len(aliases) <= shown {
		return strings.Join(aliases, ", ")
	}
	return strings.Join(aliases[:shown], ", ") + " and " + strconv.Itoa(len(aliases)-shown) + " more"
}

// policyText says what a template does with repeated times and with
// channels it has no rule for.
func policyText(duplicates, extra string) string {
	dup := map[string]string{"reject": "a CSV row that repeats a time refuses the file", "drop": "a CSV row that repeats a time is dropped"}[duplicates]
	if dup == "" {
		dup = "a CSV row that repeats a time is dropped"
	}
	ex := map[string]string{"drop": "other channels are dropped", "reject": "other channels refuse the file", "keep": "other channels are kept"}[extra]
	if ex == "" {
		ex = "other channels are kept"
	}
	return strings.ToUpper(dup[:1]) + dup[1:] + "; " + ex + "."
}
