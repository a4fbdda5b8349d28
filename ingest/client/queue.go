package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keelhq/keel/ingest"
)

// sender is one of the background goroutines: it takes batches off the
// queue and delivers them until Close.
func (c *Client) sender() {
	for {
		batch := c.nextBatch()
		if batch == nil {
			return
		}
		c.deliverQueued(batch)
	}
}

// nextBatch waits until a batch is due — a full one, the oldest event older
// than FlushInterval, a Flush or Close waiting for queued events — and takes
// it off the queue. It returns nil when the client is closed and the queue
// is empty, or when Close gave up.
func (c *Client) nextBatch() []*queued {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.runCtx.Err() != nil || c.closed && len(c.queue) == 0 {
			c.mu.Unlock()
			return nil
		}
		var wait time.Duration
		if len(c.queue) > 0 {
			due := c.closed || c.batchFullLocked() || c.queue[0].seq <= c.flushTo
			if !due {
				wait = c.cfg.FlushInterval - time.Since(c.queue[0].queued)
				due = wait <= 0
			}
			if due {
				batch := c.takeLocked()
				c.mu.Unlock()
				return batch
			}
		}
		wake := c.wake
		c.mu.Unlock()
		var tick <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-wake:
		case <-tick:
		case <-c.runCtx.Done():
			return nil
		}
		timer.Stop()
	}
}

// batchFullLocked reports whether the queue holds a full POST's worth.
func (c *Client) batchFullLocked() bool {
	n := len(c.queue)
	// The body is '[', the events, a ',' or ']' after each.
	return n >= c.cfg.BatchSize || 1+c.queueBytes+n > ingest.MaxBatchBytes
}

// takeLocked takes the oldest events that fit in one POST off the queue.
func (c *Client) takeLocked() []*queued {
	size, k := 1, 0
	for k < len(c.queue) && k < c.cfg.BatchSize {
		add := len(c.queue[k].raw) + 1
		if k > 0 && size+add > ingest.MaxBatchBytes {
			break
		}
		size += add
		k++
	}
	batch := slices.Clone(c.queue[:k])
	// Shift rather than reslice, so the queue's array never pins settled
	// events.
	n := copy(c.queue, c.queue[k:])
	clear(c.queue[n:])
	c.queue = c.queue[:n]
	c.queueBytes -= size - 1 - k
	return batch
}

// wakeLocked wakes every sender waiting in nextBatch.
func (c *Client) wakeLocked() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// deliverQueued delivers one batch from the queue and settles its events.
func (c *Client) deliverQueued(batch []*queued) {
	raws := make([][]byte, len(batch))
	for i, q := range batch {
		raws[i] = q.raw
	}
	fails, err := c.deliver(c.runCtx, raws, func(rs []result) {
		done := make([]*queued, len(rs))
		nRejected, firstReason := 0, ""
		for k, r := range rs {
			q := batch[r.index]
			q.done = true
			done[k] = q
			if r.accepted {
				c.accepted.Add(1)
				continue
			}
			if nRejected == 0 {
				firstReason = r.reason
			}
			nRejected++
			c.reject(q.ev, r.reason)
		}
		if nRejected > 0 {
			c.log.Warn("ingest client: events rejected", "count", nRejected, "first_reason", firstReason)
		}
		// Settled only after OnRejected ran, so that a Flush that returns
		// has seen every callback of its events.
		c.markSettled(done)
	})
	if fails != nil {
		c.log.Error("ingest client: the collector refused a batch for good", "err", fails)
	}
	if err != nil {
		var left []*queued
		for _, q := range batch {
			if !q.done {
				left = append(left, q)
			}
		}
		c.abandon(left)
	}
}

// reject counts a rejected event and tells OnRejected.
func (c *Client) reject(ev Event, reason string) {
	c.rejected.Add(1)
	if c.cfg.OnRejected != nil {
		c.cfg.OnRejected(ev, reason)
	}
}

// abandon settles events Close gave up on, so none is dropped silently.
func (c *Client) abandon(qs []*queued) {
	if len(qs) == 0 {
		return
	}
	for _, q := range qs {
		q.done = true
		c.unsent.Add(1)
		c.reject(q.ev, ReasonNotSent)
	}
	c.log.Warn("ingest client: events not sent before close", "count", len(qs))
	c.markSettled(qs)
}

// markSettled records settled events, wakes Flush when the settled prefix of
// the sequence grows, and frees their room in the queue. Events settle out
// of order (several senders, split batches), hence the set above settledTo.
func (c *Client) markSettled(qs []*queued) {
	c.mu.Lock()
	moved := false
	for _, q := range qs {
		if q.seq != c.settledTo+1 {
			c.settled[q.seq] = struct{}{}
			continue
		}
		c.settledTo++
		moved = true
		for {
			if _, ok := c.settled[c.settledTo+1]; !ok {
				break
			}
			delete(c.settled, c.settledTo+1)
			c.settledTo++
		}
	}
	if moved {
		close(c.progress)
		c.progress = make(chan struct{})
	}
	c.mu.Unlock()
	for range qs {
		<-c.slots
	}
}

// waitSettled waits until every event up to sequence number target is
// settled, or ctx ends.
func (c *Client) waitSettled(ctx context.Context, target uint64) error {
	for {
		c.mu.Lock()
		if c.settledTo >= target {
			c.mu.Unlock()
			return nil
		}
		progress := c.progress
		c.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			c.mu.Lock()
			left := target - c.settledTo
			for s := range c.settled {
				if s <= target {
					left--
				}
			}
			c.mu.Unlock()
			return fmt.Errorf("%d events not settled yet: %w", left, ctx.Err())
		}
	}
}
