package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// flushBytes is how much encoded signal a datasetWriter gathers before it
// copies it into the database (as store.SQLite's writer does).
const flushBytes = 4 << 20

type segRow struct {
	channel int
	seg     int64
	samples []byte
	summary []byte
}

// datasetWriter is store.DatasetWriter on PostgreSQL: segments go in with
// COPY, several per flush, each flush its own transaction.
type datasetWriter struct {
	s     *Store
	ctx   context.Context
	d     store.Dataset
	gains []float64
	buf   [][]float64
	segs  []int64
	total []int64
	rows  []segRow
	bytes int
	done  bool
}

// BeginDataset implements store.Store.
func (s *Store) BeginDataset(ctx context.Context, d store.Dataset, channels []signal.Channel) (store.DatasetWriter, error) {
	if len(channels) == 0 {
		return nil, fmt.Errorf("dataset %q has no channels", d.Name)
	}
	w := &datasetWriter{s: s, ctx: ctx, d: d}
	w.d.Channels = nil
	for _, c := range channels {
		w.d.Channels = append(w.d.Channels, store.ChannelInfo{Name: c.Name, Unit: c.Unit, Rate: c.Rate, Gain: c.Gain})
		w.gains = append(w.gains, c.Gain)
	}
	w.buf = make([][]float64, len(channels))
	w.segs = make([]int64, len(channels))
	w.total = make([]int64, len(channels))
	w.d.CreatedAt = time.Now().UTC()
	chans, _ := json.Marshal(w.d.Channels)
	if err := s.pool.QueryRow(ctx, `INSERT INTO datasets (owner_id, name, trusted_only, channels, duration, created_at, complete, writer) VALUES ($1, $2, $3, $4, 0, $5, false, $6) RETURNING id`,
		d.OwnerID, d.Name, d.TrustedOnly, string(chans), w.d.CreatedAt.UnixMilli(), s.writer).Scan(&w.d.ID); err != nil {
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
				w.buf[i] = make([]float64, 0, store.SegmentSamples)
			}
			n := min(len(b), store.SegmentSamples-len(w.buf[i]))
			w.buf[i] = append(w.buf[i], b[:n]...)
			b = b[n:]
			w.total[i] += int64(n)
			if len(w.buf[i]) == store.SegmentSamples {
				w.cut(i)
			}
		}
	}
	if w.bytes >= flushBytes {
		return w.flush()
	}
	return nil
}

func (w *datasetWriter) cut(i int) {
	r := segRow{channel: i, seg: w.segs[i], samples: store.EncodeSegment(w.buf[i], w.gains[i]), summary: store.EncodeSummary(w.buf[i])}
	w.rows = append(w.rows, r)
	w.bytes += len(r.samples) + len(r.summary)
	w.segs[i]++
	w.buf[i] = w.buf[i][:0]
}

func (w *datasetWriter) flush() error {
	if len(w.rows) == 0 {
		return nil
	}
	src := pgx.CopyFromSlice(len(w.rows), func(i int) ([]any, error) {
		r := w.rows[i]
		return []any{w.d.ID, r.channel, r.seg, r.samples, r.summary}, nil
	})
	if _, err := w.s.pool.CopyFrom(w.ctx, pgx.Identifier{"dataset_segments"}, []string{"dataset_id", "channel", "seg", "samples", "summary"}, src); err != nil {
		return fmt.Errorf("store %d segments of dataset %d: %w", len(w.rows), w.d.ID, err)
	}
	w.rows, w.bytes = w.rows[:0], 0
	return nil
}

func (w *datasetWriter) Commit(ident signal.Identity, anns []signal.Annotation, annotationRate float64) (store.Dataset, error) {
	if w.done {
		return w.d, fmt.Errorf("dataset %d: committed twice", w.d.ID)
	}
	for i := range w.buf {
		if len(w.buf[i]) > 0 {
			w.cut(i)
		}
	}
	if err := w.flush(); err != nil {
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
	err := pgx.BeginFunc(w.ctx, w.s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(w.ctx, `INSERT INTO dataset_identities (dataset_id, identity, annotations, annotation_rate) VALUES ($1, $2, $3, $4)`,
			w.d.ID, string(identJSON), string(annJSON), annotationRate); err != nil {
			return err
		}
		_, err := tx.Exec(w.ctx, `UPDATE datasets SET channels = $1, duration = $2 WHERE id = $3`, string(chans), w.d.Duration, w.d.ID)
		return err
	})
	if err != nil {
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
	// A fresh context: the request's may be what was cancelled.
	_, err := w.s.pool.Exec(context.WithoutCancel(w.ctx), `DELETE FROM datasets WHERE id = $1`, w.d.ID)
	return err
}

// PublishDatasets implements store.Store.
func (s *Store) PublishDatasets(ctx context.Context, ids []int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, id := range ids {
			tag, err := tx.Exec(ctx, `UPDATE datasets SET complete = true WHERE id = $1 AND NOT complete`, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("publish dataset %d: not a dataset waiting to be published", id)
			}
		}
		return nil
	})
}

// CreateDataset implements store.Store.
func (s *Store) CreateDataset(ctx context.Context, d store.Dataset, rec *signal.Recording) (store.Dataset, error) {
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

// DatasetSignal implements store.Store.
func (s *Store) DatasetSignal(ctx context.Context, id int64) (*signal.Signal, error) {
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

// DatasetSamples implements store.Store.
func (s *Store) DatasetSamples(ctx context.Context, id int64, channel int, from, to int64) ([]float64, error) {
	d, err := s.Dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.channelSamples(ctx, d, channel, from, to)
}

func (s *Store) channelSamples(ctx context.Context, d store.Dataset, channel int, from, to int64) ([]float64, error) {
	id := d.ID
	if channel < 0 || channel >= len(d.Channels) {
		return nil, fmt.Errorf("dataset %d has no channel %d: %w", id, channel, store.ErrNotFound)
	}
	from, to = max(from, 0), min(to, int64(d.Channels[channel].Samples))
	if from >= to {
		return []float64{}, nil
	}
	first := from / store.SegmentSamples
	rows, err := s.pool.Query(ctx, `SELECT seg, samples FROM dataset_segments WHERE dataset_id = $1 AND channel = $2 AND seg BETWEEN $3 AND $4 ORDER BY seg`,
		id, channel, first, (to-1)/store.SegmentSamples)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]float64, 0, to-first*store.SegmentSamples)
	for rows.Next() {
		var seg int64
		var b []byte
		if err := rows.Scan(&seg, &b); err != nil {
			return nil, err
		}
		if seg != first+int64(len(out))/store.SegmentSamples {
			return nil, fmt.Errorf("dataset %d: segment %d of channel %d is out of place", id, seg, channel)
		}
		if out, err = store.DecodeSegment(out, b, store.SegmentName(id, channel, seg)); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	lo, hi := from-first*store.SegmentSamples, to-first*store.SegmentSamples
	if hi > int64(len(out)) {
		return nil, fmt.Errorf("dataset %d: channel %d has %d stored samples from %d, want %d", id, channel, len(out), first*store.SegmentSamples, hi)
	}
	return out[lo:hi], nil
}

// DatasetSummaries implements store.Store.
func (s *Store) DatasetSummaries(ctx context.Context, id int64, channel int) ([]store.BlockSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT seg, summary FROM dataset_segments WHERE dataset_id = $1 AND channel = $2 ORDER BY seg`, id, channel)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.BlockSummary
	for rows.Next() {
		var seg int64
		var b []byte
		if err := rows.Scan(&seg, &b); err != nil {
			return nil, err
		}
		if out, err = store.DecodeSummary(out, b, store.SegmentName(id, channel, seg)); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}
