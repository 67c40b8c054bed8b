package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// A dataset's samples are stored per channel in segments of SegmentSamples
// samples, each with a summary per SummaryBlock samples. Uploads write them
// as the files are read, so a 24-hour recording is never whole in memory;
// the strip reads the segments of its window and previews read summaries.

// SegmentSamples is how many samples of one channel one stored segment
// holds (three minutes of a 360 Hz ECG).
const SegmentSamples = 1 << 16

// flushBytes is how much encoded signal a DatasetWriter gathers before it
// writes a transaction: large enough to write fast, small enough that the
// grid's own writes never wait long for the database.
const flushBytes = 4 << 20

// DatasetWriter stores one dataset while its recording is read. Nothing of
// it is visible until Commit has succeeded and PublishDatasets has run
// (one publication for all the recordings of an upload, so that they
// appear together or not at all); Abort before Commit, DeleteDataset after
// it, or a crash (cleaned up at the next start) removes what was written.
type DatasetWriter interface {
	// ID is the dataset's id.
	ID() int64
	// Write appends samples: blocks[i] continues channel i.
	Write(blocks [][]float64) error
	// Commit writes what is left, the identity and the annotations; the
	// dataset is complete but stays invisible until PublishDatasets.
	Commit(ident signal.Identity, anns []signal.Annotation, annotationRate float64) (Dataset, error)
	// Abort removes everything written; it does nothing after a Commit that
	// succeeded.
	Abort() error
}

type segRow struct {
	channel int
	seg     int64
	samples []byte
	summary []byte
}

// newSegRow is the stored form of segment seg of a channel.
func newSegRow(channel int, seg int64, samples []float64, gain float64) segRow {
	// Room for two bytes a sample: the deltas of a recording at its ADC's
	// resolution take one or two.
	return segRow{channel: channel, seg: seg, samples: encodeSegment(make([]byte, 0, 2*len(samples)+16), samples, gain),
		summary: encodeSummary(make([]byte, 0, summaryEntry*(len(samples)/SummaryBlock+1)), samples)}
}

// datasetWriter stores a dataset as it is read. Write only cuts the
// samples into segments; an encoder goroutine (encodeSegments) encodes
// them and inserts them in batches, so that reading the upload's next
// blocks and storing the last ones run side by side.
type datasetWriter struct {
	s     *SQLite
	ctx   context.Context
	d     Dataset
	gains []float64
	buf   [][]float64 // per channel, fewer than SegmentSamples samples
	segs  []int64     // per channel, the next segment's index
	total []int64     // per channel, samples written
	done  bool

	jobs    chan segJob    // cut segments for the encoder; nil until the first
	free    chan []float64 // segment buffers the encoder is done with
	encoded chan struct{}  // closed when the encoder has stored every job
	mu      sync.Mutex     // guards failed
	failed  error          // the encoder's first error, or errAborted
	rows    []segRow       // the encoder's batch
	bytes   int            // the encoder's batch's size
}

// segJob is one cut segment on its way to the encoder.
type segJob struct {
	channel int
	seg     int64
	samples []float64
}

// segQueue is how many cut segments wait for the encoder at most (each
// SegmentSamples float64s): the reader goes no further ahead of the store.
const segQueue = 4

// BeginDataset starts storing a dataset with the given channels (their
// samples are ignored: Write sends them).
func (s *SQLite) BeginDataset(ctx context.Context, d Dataset, channels []signal.Channel) (DatasetWriter, error) {
	if len(channels) == 0 {
		return nil, fmt.Errorf("dataset %q has no channels", d.Name)
	}
	w := &datasetWriter{s: s, ctx: ctx, d: d}
	w.d.Channels = nil
	for _, c := range channels {
		w.d.Channels = append(w.d.Channels, ChannelInfo{Name: c.Name, Unit: c.Unit, Rate: c.Rate, Gain: c.Gain})
		w.gains = append(w.gains, c.Gain)
	}
	w.buf = make([][]float64, len(channels))
	w.segs = make([]int64, len(channels))
	w.total = make([]int64, len(channels))
	w.d.CreatedAt = time.Now().UTC()
	chans, _ := json.Marshal(w.d.Channels)
	res, err := s.db.ExecContext(ctx, `INSERT INTO datasets (owner_id, name, trusted_only, channels, duration, created_at, complete) VALUES (?, ?, ?, ?, 0, ?, 0)`,
		d.OwnerID, d.Name, d.TrustedOnly, string(chans), w.d.CreatedAt.UnixMilli())
	if err != nil {
		return nil, err
	}
	if w.d.ID, err = res.LastInsertId(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *datasetWriter) ID() int64 { return w.d.ID }

func (w *datasetWriter) Write(blocks [][]float64) error {
	if w.done {
		return fmt.Errorf("dataset %d: write after commit", w.d.ID)
	}
	if len(blocks) != len(w.buf) {
		return fmt.Errorf("dataset %d: %d channels written, the dataset has %d", w.d.ID, len(blocks), len(w.buf))
	}
	for i, b := range blocks {
		for len(b) > 0 {
			if w.buf[i] == nil {
				w.buf[i] = w.newBuffer()
			}
			n := min(len(b), SegmentSamples-len(w.buf[i]))
			w.buf[i] = append(w.buf[i], b[:n]...)
			b = b[n:]
			w.total[i] += int64(n)
			if len(w.buf[i]) == SegmentSamples {
				w.cut(i)
			}
		}
	}
	return w.err()
}

// err is the encoder's first error, if it had one.
func (w *datasetWriter) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// fail keeps the first error of the encoder (or errAborted).
func (w *datasetWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = err
	}
}

// errAborted stops the encoder of an aborted dataset from inserting more.
var errAborted = errors.New("dataset aborted")

// newBuffer is an empty segment buffer, one the encoder is done with when
// there is one.
func (w *datasetWriter) newBuffer() []float64 {
	select {
	case b := <-w.free:
		return b[:0]
	default:
		return make([]float64, 0, SegmentSamples)
	}
}

// cut hands channel i's buffered samples to the encoder as its next
// segment; the buffer is the encoder's from then on.
func (w *datasetWriter) cut(i int) {
	if w.jobs == nil {
		w.jobs, w.free, w.encoded = make(chan segJob, segQueue), make(chan []float64, segQueue+2), make(chan struct{})
		go w.encodeSegments(w.jobs)
	}
	w.jobs <- segJob{channel: i, seg: w.segs[i], samples: w.buf[i]}
	w.segs[i]++
	w.buf[i] = nil
}

// encodeSegments encodes the cut segments and inserts them in batches of
// about flushBytes, the last batch once jobs is closed. After an error it
// only drains jobs; Write and Commit report the error.
func (w *datasetWriter) encodeSegments(jobs <-chan segJob) {
	defer close(w.encoded)
	fail := func(err error) {
		if err != nil {
			w.fail(err)
		}
	}
	for j := range jobs {
		if w.err() == nil {
			r := newSegRow(j.channel, j.seg, j.samples, w.gains[j.channel])
			w.rows = append(w.rows, r)
			w.bytes += len(r.samples) + len(r.summary)
			if w.bytes >= flushBytes {
				fail(w.flush())
			}
		}
		select {
		case w.free <- j.samples:
		default:
		}
	}
	if w.err() == nil {
		fail(w.flush())
	}
}

// finish cuts what is buffered, waits until the encoder has stored every
// segment and returns its error.
func (w *datasetWriter) finish(cutRest bool) error {
	if cutRest {
		for i := range w.buf {
			if len(w.buf[i]) > 0 {
				w.cut(i)
			}
		}
	}
	if w.jobs != nil {
		close(w.jobs)
		<-w.encoded
		w.jobs = nil
	}
	return w.err()
}

func (w *datasetWriter) flush() error {
	if len(w.rows) == 0 {
		return nil
	}
	tx, err := w.s.db.BeginTx(w.ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := insertSegments(w.ctx, tx, w.d.ID, w.rows); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.rows, w.bytes = w.rows[:0], 0
	return nil
}

func insertSegments(ctx context.Context, tx *sql.Tx, id int64, rows []segRow) error {
	st, err := tx.PrepareContext(ctx, `INSERT INTO dataset_segments (dataset_id, channel, seg, samples, summary) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, id, r.channel, r.seg, r.samples, r.summary); err != nil {
			return fmt.Errorf("store segment %d of channel %d: %w", r.seg, r.channel, err)
		}
	}
	return nil
}

func (w *datasetWriter) Commit(ident signal.Identity, anns []signal.Annotation, annotationRate float64) (Dataset, error) {
	if w.done {
		return w.d, fmt.Errorf("dataset %d: committed twice", w.d.ID)
	}
	if err := w.finish(true); err != nil {
		return w.d, err
	}
	w.d.Duration = 0
	for i := range w.d.Channels {
		c := &w.d.Channels[i]
		c.Samples = int(w.total[i])
		if c.Rate > 0 {
			w.d.Duration = max(w.d.Duration, float64(c.Samples)/c.Rate)
		}
	}
	chans, _ := json.Marshal(w.d.Channels)
	identJSON, _ := json.Marshal(ident)
	if anns == nil {
		anns = []signal.Annotation{}
	}
	annJSON, _ := json.Marshal(anns)
	tx, err := w.s.db.BeginTx(w.ctx, nil)
	if err != nil {
		return w.d, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(w.ctx, `INSERT INTO dataset_identities (dataset_id, identity, annotations, annotation_rate) VALUES (?, ?, ?, ?)`,
		w.d.ID, string(identJSON), string(annJSON), annotationRate); err != nil {
		return w.d, err
	}
	if _, err := tx.ExecContext(w.ctx, `UPDATE datasets SET channels = ?, duration = ? WHERE id = ?`, string(chans), w.d.Duration, w.d.ID); err != nil {
		return w.d, err
	}
	if err := tx.Commit(); err != nil {
		return w.d, err
	}
	w.done = true
	return w.d, nil
}

func (w *datasetWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.fail(errAborted)
	w.finish(false) // the encoder stops inserting before the rows go
	// A fresh context: the request's may be what was cancelled.
	_, err := w.s.db.ExecContext(context.WithoutCancel(w.ctx), `DELETE FROM datasets WHERE id = ?`, w.d.ID)
	return err
}

// PublishDatasets implements Store.
func (s *SQLite) PublishDatasets(ctx context.Context, ids []int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range ids {
		res, err := tx.ExecContext(ctx, `UPDATE datasets SET complete = 1 WHERE id = ? AND complete = 0`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("publish dataset %d: not a dataset waiting to be published", id)
		}
	}
	return tx.Commit()
}

// CreateDataset implements Store.
func (s *SQLite) CreateDataset(ctx context.Context, d Dataset, rec *signal.Recording) (Dataset, error) {
	w, err := s.BeginDataset(ctx, d, rec.Signal.Channels)
	if err != nil {
		return d, err
	}
	blocks := make([][]float64, len(rec.Signal.Channels))
	for i, c := range rec.Signal.Channels {
		blocks[i] = c.Samples
	}
	if err := w.Write(blocks); err != nil {
		w.Abort()
		return d, err
	}
	out, err := w.Commit(rec.Identity, rec.Annotations, rec.AnnotationRate)
	if err == nil {
		err = s.PublishDatasets(ctx, []int64{out.ID})
	}
	if err != nil {
		s.DeleteDataset(context.WithoutCancel(ctx), w.ID())
	}
	return out, err
}

// DatasetSignal implements Store.
func (s *SQLite) DatasetSignal(ctx context.Context, id int64) (*signal.Signal, error) {
	d, err := s.Dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	sig := &signal.Signal{}
	for i, c := range d.Channels {
		ch := c.Channel()
		if ch.Samples, err = s.channelSamples(ctx, d, i, 0, int64(c.Samples)); err != nil {
			return nil, err
		}
		sig.Channels = append(sig.Channels, ch)
	}
	return sig, nil
}

func segName(id int64, ch int, seg int64) string {
	return fmt.Sprintf("%d of channel %d of dataset %d", seg, ch, id)
}

// DatasetSamples implements Store.
func (s *SQLite) DatasetSamples(ctx context.Context, id int64, channel int, from, to int64) ([]float64, error) {
	d, err := s.Dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.channelSamples(ctx, d, channel, from, to)
}

// channelSamples reads samples [from, to) of one channel of d (clamped to
// the channel) from the segments that hold them.
func (s *SQLite) channelSamples(ctx context.Context, d Dataset, channel int, from, to int64) ([]float64, error) {
	id := d.ID
	if channel < 0 || channel >= len(d.Channels) {
		return nil, fmt.Errorf("dataset %d has no channel %d: %w", id, channel, ErrNotFound)
	}
	from, to = max(from, 0), min(to, int64(d.Channels[channel].Samples))
	if from >= to {
		return []float64{}, nil
	}
	first, last := from/SegmentSamples, (to-1)/SegmentSamples
	rows, err := s.db.QueryContext(ctx, `SELECT seg, samples FROM dataset_segments WHERE dataset_id = ? AND channel = ? AND seg BETWEEN ? AND ? ORDER BY seg`,
		id, channel, first, last)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var blobs [][]byte // segment first+i
	for rows.Next() {
		var seg int64
		var b []byte
		if err := rows.Scan(&seg, &b); err != nil {
			return nil, err
		}
		if seg != first+int64(len(blobs)) {
			return nil, fmt.Errorf("dataset %d: segment %d of channel %d is out of place", id, seg, channel)
		}
		blobs = append(blobs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if int64(len(blobs)) != last-first+1 {
		return nil, fmt.Errorf("dataset %d: channel %d has %d stored segments from %d, want %d", id, channel, len(blobs), first, last-first+1)
	}
	out, err := decodeSegments(blobs, first, int64(d.Channels[channel].Samples), func(seg int64) string { return segName(id, channel, seg) })
	if err != nil {
		return nil, err
	}
	return out[from-first*SegmentSamples : to-first*SegmentSamples], nil
}

// decodeSegments decodes the stored segments first, first+1... of a
// channel of total samples into one slice, each segment into its own place
// and several at once (a 24-hour lead is 475 of them: most of what
// starting an analysis costs). Every segment but the channel's last holds
// SegmentSamples samples.
func decodeSegments(blobs [][]byte, first, total int64, name func(seg int64) string) ([]float64, error) {
	n := min(int64(len(blobs))*SegmentSamples, total-first*SegmentSamples)
	if n < 0 {
		return nil, fmt.Errorf("segment %s: beyond the channel's %d samples", name(first), total)
	}
	out := make([]float64, n)
	errs := make([]error, len(blobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 4, len(blobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(blobs); i = int(next.Add(1) - 1) {
				lo := int64(i) * SegmentSamples
				hi := min(lo+SegmentSamples, n)
				got, err := decodeSegment(out[lo:lo:hi], blobs[i], name(first+int64(i)))
				if err == nil && int64(len(got)) != hi-lo {
					err = fmt.Errorf("segment %s: %d samples, want %d", name(first+int64(i)), len(got), hi-lo)
				}
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DatasetSummaries implements Store.
func (s *SQLite) DatasetSummaries(ctx context.Context, id int64, channel int) ([]BlockSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seg, summary FROM dataset_segments WHERE dataset_id = ? AND channel = ? ORDER BY seg`, id, channel)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BlockSummary
	for rows.Next() {
		var seg int64
		var b []byte
		if err := rows.Scan(&seg, &b); err != nil {
			return nil, err
		}
		if out, err = decodeSummary(out, b, segName(id, channel, seg)); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// convertLegacySignals rewrites datasets stored before segments (one
// dataset_signals blob each) as segments, one dataset per transaction, and
// removes datasets a crash left incomplete.
func (s *SQLite) convertLegacySignals(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM datasets WHERE complete = 0`); err != nil {
		return err
	}
	ids, err := s.legacySignalIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.convertLegacySignal(ctx, id); err != nil {
			return fmt.Errorf("convert the signal of dataset %d to segments: %w", id, err)
		}
	}
	return nil
}

func (s *SQLite) legacySignalIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT dataset_id FROM dataset_signals ORDER BY dataset_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (s *SQLite) convertLegacySignal(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var b []byte
	var chans string
	if err := tx.QueryRowContext(ctx, `SELECT s.signal, d.channels FROM dataset_signals s JOIN datasets d ON d.id = s.dataset_id WHERE s.dataset_id = ?`, id).Scan(&b, &chans); err != nil {
		return err
	}
	sig, err := DecodeSignal(b)
	if err != nil {
		return err
	}
	var info []ChannelInfo
	if err := json.Unmarshal([]byte(chans), &info); err != nil {
		return err
	}
	var rows []segRow
	for i, c := range sig.Channels {
		if i < len(info) {
			info[i].Gain = c.Gain
		}
		for seg := int64(0); seg*SegmentSamples < int64(len(c.Samples)); seg++ {
			part := c.Samples[seg*SegmentSamples : min((seg+1)*SegmentSamples, int64(len(c.Samples)))]
			rows = append(rows, newSegRow(i, seg, part, c.Gain))
		}
	}
	if err := insertSegments(ctx, tx, id, rows); err != nil {
		return err
	}
	out, _ := json.Marshal(info)
	if _, err := tx.ExecContext(ctx, `UPDATE datasets SET channels = ? WHERE id = ?`, string(out), id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_signals WHERE dataset_id = ?`, id); err != nil {
		return err
	}
	return tx.Commit()
}
