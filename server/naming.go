package server

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/pulsegrid/pulsegrid/algorithms/template"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// RuleIdentifyingName is the rule of the warning an upload gets when its
// file name or its given name looks like it identifies a patient.
const RuleIdentifyingName = "identifying-name"

// datasetName chooses a new dataset's name. A name the uploader typed is
// kept; otherwise the dataset is named neutrally, "Recording 2026-12-03 #3"
// (the owner's third dataset of the day, UTC), never after its file: file
// stems like SMITH_JOHN_MRN12345 would show in every list, to admins and in
// cohort exports. When the typed name or the file's stem looks like an
// identity, warn says so, for the uploader.
func datasetName(ctx context.Context, st store.Store, owner int64, given, stem string, now time.Time) (name string, warn *template.Violation) {
	given = strings.TrimSpace(given)
	if given != "" {
		if why := identityLike(given); why != "" {
			warn = &template.Violation{Rule: RuleIdentifyingName, Action: "warn",
				Message: fmt.Sprintf("the name %q %s; names show in lists, to administrators and in cohort exports: rename the dataset if it identifies a patient", given, why)}
		}
		return given, warn
	}
	day := now.UTC().Truncate(24 * time.Hour)
	n, err := st.CountDatasetsSince(ctx, owner, day)
	if err != nil {
		n = 0 // a name is not worth failing an upload for
	}
	name = fmt.Sprintf("Recording %s #%d", day.Format(time.DateOnly), n+1)
	if why := identityLike(stem); why != "" {
		warn = &template.Violation{Rule: RuleIdentifyingName, Action: "warn",
			Message: fmt.Sprintf("the file name %q %s, so the dataset is named %q instead; check that the recording's header holds no identity either", stem, why, name)}
	}
	return name, warn
}

var (
	// letters then at least 4 digits, as in MRN12345, ID-0045321, NHS 943 476 5919.
	idNumberRE = regexp.MustCompile(`(?i)(^|[^a-z])[a-z]{1,6}[-_ #:]?\d{4,}`)
	// a date of birth or other full date: 1961-04-03, 03.04.1961, 19610403.
	dateRE = regexp.MustCompile(`(^|\D)((19|20)\d\d[-_./]?(0[1-9]|1[0-2])[-_./]?(0[1-9]|[12]\d|3[01])|(0[1-9]|[12]\d|3[01])[-_./](0[1-9]|1[0-2])[-_./](19|20)\d\d)(\D|$)`)
	// identity words.
	idWordRE = regexp.MustCompile(`(?i)(^|[^a-z])(mrn|nhs|ssn|dob|patient|pat|pt|name|surname|geb|born)([^a-z]|$)`)
)

// technical are words of recording names that are not names of people.
var technical = map[string]bool{
	"ecg": true, "ekg": true, "eeg": true, "emg": true, "ppg": true, "abp": true, "art": true, "resp": true, "spo2": true, "hr": true,
	"lead": true, "leads": true, "holter": true, "record": true, "rec": true, "recording": true, "data": true, "test": true, "signal": true,
	"signals": true, "file": true, "export": true, "night": true, "day": true, "sleep": true, "monitor": true, "raw": true, "clean": true,
	"final": true, "copy": true, "new": true, "old": true, "ward": true, "icu": true, "bed": true, "vitals": true, "trend": true,
	"trends": true, "rhythm": true, "strip": true, "baseline": true, "rest": true, "stress": true, "exercise": true, "study": true,
	"session": true, "run": true, "trial": true, "sample": true, "demo": true, "mit": true, "bih": true, "mitdb": true, "nstdb": true,
	"part": true, "channel": true, "ii": true, "iii": true, "avr": true, "avl": true, "avf": true, "mlii": true, "pleth": true, "edf": true,
	"wfdb": true, "csv": true, "upload": true, "hospital": true, "clinic": true, "cardio": true, "cardiology": true, "hours": true, "hour": true,
}

// identityLike says how s looks like it identifies a person ("looks like
// a record number"), or "" if it does not: letters followed by four or
// more digits, a full date, an identity word (MRN, DOB, patient), or two
// or more words that are names rather than recording vocabulary
// (SMITH_JOHN, Jane-Doe).
func identityLike(s string) string {
	switch {
	case s == "":
		return ""
	case idWordRE.MatchString(s):
		return "contains an identity word (MRN, DOB, patient, name)"
	case dateRE.MatchString(s):
		return "holds a full date, which may be a birth date"
	case idNumberRE.MatchString(s):
		return "looks like it holds a record or patient number"
	}
	words := strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == ' ' || r == '.' || r == ',' })
	names := 0
	for _, w := range words {
		if len(w) >= 2 && allLetters(w) && !technical[strings.ToLower(w)] && (isUpperWord(w) || isCapitalised(w)) {
			names++
		}
	}
	if names >= 2 {
		return "looks like a person's name"
	}
	return ""
}

func allLetters(w string) bool {
	for _, r := range w {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

func isUpperWord(w string) bool { return strings.ToUpper(w) == w }

func isCapitalised(w string) bool {
	r := []rune(w)
	return unicode.IsUpper(r[0]) && strings.ToLower(string(r[1:])) == string(r[1:])
}

// nameWarnings joins the identifying-name warnings of an upload into one
// message for the portal's flash, or "".
func nameWarnings(stored []storedRecording) string {
	var msgs []string
	for _, s := range stored {
		for _, v := range s.warnings {
			if v.Rule == RuleIdentifyingName {
				msgs = append(msgs, sentence(v.Message))
			}
		}
	}
	return strings.Join(msgs, " ")
}
