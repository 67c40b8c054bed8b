package edf

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

var months = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// identity collects the identifying header fields. For EDF+ the patient
// field is "code sex birthdate name [more]" and the recording field
// "Startdate dd-MMM-yyyy admincode technician equipment [more]", with X for
// an unknown subfield and '_' for a space inside one.
func identity(name string, h *Header) signal.Identity {
	id := signal.Identity{
		Record:    strings.TrimSuffix(path.Base(name), path.Ext(name)),
		FileNames: []string{name},
	}
	year := 0
	if h.IsPlus() {
		p := strings.Fields(h.Patient)
		sub := func(i int) string {
			if i >= len(p) || p[i] == "X" {
				return ""
			}
			return strings.ReplaceAll(p[i], "_", " ")
		}
		id.PatientID = sub(0)
		switch sub(1) {
		case "M", "F":
			id.Sex = sub(1)
		}
		id.BirthDate = plusDate(sub(2))
		id.PatientName = sub(3)
		if len(p) > 4 {
			id.Comments = append(id.Comments, "patient: "+strings.Join(p[4:], " "))
		}
		r := strings.Fields(h.Recording)
		if len(r) >= 2 && r[0] == "Startdate" {
			if d := plusDate(r[1]); len(d) == 10 && d[4] == '-' {
				year, _ = strconv.Atoi(d[:4])
			}
			r = r[2:]
		}
		known := false
		for _, f := range r {
			known = known || f != "X"
		}
		if known {
			id.Comments = append(id.Comments, "recording: "+strings.Join(r, " "))
		}
	} else {
		id.PatientID = strings.TrimSpace(h.Patient)
		if rec := strings.TrimSpace(h.Recording); rec != "" {
			id.Comments = append(id.Comments, "recording: "+rec)
		}
	}
	id.RecordedAt = startTime(h.StartDate, h.StartTime, year)
	return id
}

// plusDate turns an EDF+ date "dd-MMM-yyyy" into "yyyy-mm-dd"; anything
// else is returned as it is.
func plusDate(s string) string {
	var d, y int
	var m string
	if len(s) != 11 || s[2] != '-' || s[6] != '-' {
		return s
	}
	if _, err := fmt.Sscanf(s, "%2d-%3s-%4d", &d, &m, &y); err != nil {
		return s
	}
	for i, name := range months {
		if strings.EqualFold(m, name) && d >= 1 && d <= 31 {
			return fmt.Sprintf("%04d-%02d-%02d", y, i+1, d)
		}
	}
	return s
}

// startTime turns the header's "dd.mm.yy" and "hh.mm.ss" into ISO-8601
// local time. Two-digit years 85–99 are 1985–1999 and 00–84 are 2000–2084
// (the EDF spec's clipping date) unless the EDF+ Startdate gives the year.
func startTime(date, clock string, year int) string {
	raw := strings.TrimSpace(date + " " + clock)
	num := func(s string, i int) (int, bool) {
		if len(s) != 8 || (i > 0 && s[i-1] != '.') {
			return 0, false
		}
		v, err := strconv.Atoi(s[i : i+2])
		return v, err == nil && s[i] >= '0' && s[i] <= '9'
	}
	dd, ok1 := num(date, 0)
	mm, ok2 := num(date, 3)
	yy, ok3 := num(date, 6)
	h, ok4 := num(clock, 0)
	mi, ok5 := num(clock, 3)
	se, ok6 := num(clock, 6)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || dd < 1 || dd > 31 || mm < 1 || mm > 12 || h > 23 || mi > 59 || se > 60 {
		return raw
	}
	if year == 0 || year%100 != yy {
		year = 2000 + yy
		if yy >= 85 {
			year = 1900 + yy
		}
	}
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", year, mm, dd, h, mi, se)
}
