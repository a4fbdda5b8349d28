package warehouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// fetch is what a partition reader hands to the worker: the messages of one
// Kafka fetch, in offset order.
type fetch struct {
	partition int
	msgs      []kafka.Message
	lag       int64 // messages left in the partition after these
}

// partitionReader reads one partition from an offset on, straight from the
// partition leader, a whole fetch at a time. It is what kafka-go's Reader
// does inside, minus a channel hop per message: the loader consumes
// hundreds of thousands of messages a second, and per-message hand-offs were
// a tenth of its CPU.
type partitionReader struct {
	name      string // the loader's, for logs
	brokers   []string
	topic     string
	partition int
	maxBytes  int           // per fetch; bounds the memory a fetch holds
	maxWait   time.Duration // how long the broker may wait for data
	log       *slog.Logger
	dialer    *kafka.Dialer
}

// run reads from offset (kafka.FirstOffset for the start of the partition)
// and sends each non-empty fetch to out until ctx ends. Broker restarts,
// leader moves and network errors are retried with a backoff.
func (r *partitionReader) run(ctx context.Context, offset int64, out chan<- fetch) {
	backoff := newBackoff()
	for ctx.Err() == nil {
		conn, next, err := r.connect(ctx, offset)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn(r.name+": connect to partition leader", "partition", r.partition, "err", err)
				backoff.wait(ctx)
			}
			continue
		}
		offset = next
		backoff.reset()
		offset, err = r.readLoop(ctx, conn, offset, out)
		conn.Close()
		if err != nil && ctx.Err() == nil {
			r.log.Warn(r.name+": read partition", "partition", r.partition, "offset", offset, "err", err)
			backoff.wait(ctx)
		}
	}
}

// connect dials the partition's leader and resolves where to start.
func (r *partitionReader) connect(ctx context.Context, offset int64) (*kafka.Conn, int64, error) {
	var lastErr error
	for _, b := range r.brokers {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := r.dialer.DialLeader(dctx, "tcp", b, r.topic, r.partition)
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		first, last, err := conn.ReadOffsets()
		conn.SetDeadline(time.Time{})
		if err != nil {
			conn.Close()
			lastErr = err
			continue
		}
		switch {
		case offset < 0:
			offset = first
		case offset < first:
			// Kafka's retention deleted messages this loader never stored.
			// Nothing can bring them back; say so loudly and go on.
			r.log.Error(r.name+": messages were deleted by Kafka retention before they were loaded",
				"partition", r.partition, "from", offset, "to", first-1, "lost", first-offset)
			offset = first
		case offset > last:
			return nil, 0, fmt.Errorf("partition %d: offset %d is past the end %d; was the topic re-created?", r.partition, offset, last)
		}
		if _, err := conn.Seek(offset, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
			conn.Close()
			lastErr = err
			continue
		}
		return conn, offset, nil
	}
	return nil, offset, lastErr
}

// readLoop fetches until an error that needs a new connection. It returns
// the next offset to read.
func (r *partitionReader) readLoop(ctx context.Context, conn *kafka.Conn, offset int64, out chan<- fetch) (int64, error) {
	for ctx.Err() == nil {
		conn.SetReadDeadline(time.Now().Add(r.maxWait + 10*time.Second))
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: r.maxBytes, MaxWait: r.maxWait})
		var msgs []kafka.Message
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			msgs = append(msgs, m)
		}
		hw := batch.HighWaterMark()
		err := batch.Close()
		if len(msgs) > 0 {
			offset = msgs[len(msgs)-1].Offset + 1
			select {
			case out <- fetch{partition: r.partition, msgs: msgs, lag: max(hw-offset, 0)}:
			case <-ctx.Done():
				return offset, nil
			}
		}
		switch {
		case err == nil, errors.Is(err, io.EOF), errors.Is(err, kafka.RequestTimedOut):
			continue
		case errors.Is(err, kafka.OffsetOutOfRange):
			return offset, err // connect resolves where to go on
		default:
			return offset, err
		}
	}
	return offset, nil
}
