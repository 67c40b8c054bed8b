package store

// The segment codec (segcodec.go) for other implementations of Store, so
// that every backend stores the same bytes and decodes them with the same
// checks.

// EncodeSegment is the stored form of one segment of a channel's samples
// (at most SegmentSamples) whose recorder gain is gain (0: none).
func EncodeSegment(samples []float64, gain float64) []byte { return encodeSegment(nil, samples, gain) }

// EncodeSummary is the stored summary of one segment's samples, one entry
// per SummaryBlock samples.
func EncodeSummary(samples []float64) []byte { return encodeSummary(nil, samples) }

// DecodeSegment appends the samples of a stored segment to dst; at names
// the segment in errors.
func DecodeSegment(dst []float64, b []byte, at string) ([]float64, error) {
	return decodeSegment(dst, b, at)
}

// DecodeSummary appends the entries of a stored summary to dst; at names
// the segment in errors.
func DecodeSummary(dst []BlockSummary, b []byte, at string) ([]BlockSummary, error) {
	return decodeSummary(dst, b, at)
}

// SegmentName names segment seg of a channel of a dataset in errors.
func SegmentName(id int64, channel int, seg int64) string { return segName(id, channel, seg) }
