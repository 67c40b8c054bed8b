package ecg

// Rhythm summarises the rhythm of the record.
type Rhythm struct {
	// AFBurden is the fraction of the analysed time (first to last beat)
	// in atrial fibrillation episodes.
	AFBurden  float64 `json:"af_burden"`
	AFSeconds float64 `json:"af_s"`
}

// Event is one rhythm event: an episode or a run of beats.
type Event struct {
	Kind      string  `json:"kind"`
	Start     int64   `json:"start"` // sample of its first beat
	End       int64   `json:"end"`   // sample of its last beat
	StartTime float64 `json:"start_s"`
	EndTime   float64 `json:"end_s"`
	Beats     int     `json:"beats"`
	RateBPM   float64 `json:"rate_bpm"`
	Beat      int64   `json:"beat"` // a representative beat
}
