package client

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel/ingest"
)

// result is the outcome of one event of a delivery.
type result struct {
	index    int // position in the delivery's events
	accepted bool
	reason   string // why it was rejected
}

// deliver posts the encoded events raws, in as many POSTs as the count and
// size limits need, retrying until every event is settled or ctx ends.
// settle hears about each group of events as soon as the collector settles
// them, so that they are released while the rest is still being retried.
// It returns the permanent failures (joined), and an error wrapping ctx's
// when ctx ended first: events not yet handed to settle are then unsettled.
func (c *Client) deliver(ctx context.Context, raws [][]byte, settle func([]result)) (fails error, err error) {
	var failed []error
	todo, tooBig := chunk(raws)
	for _, i := range tooBig {
		e := fmt.Errorf("ingest client: the event is %d bytes encoded; a POST body holds at most %d", len(raws[i]), ingest.MaxBatchBytes)
		failed = append(failed, e)
		settle([]result{{index: i, reason: e.Error()}})
	}
	for len(todo) > 0 {
		idx := todo[0]
		todo = todo[1:]
		resp, fail, err := c.postRetrying(ctx, raws, idx)
		if err != nil {
			return errors.Join(failed...), err
		}
		if fail != nil {
			var ce *CollectorError
			if errors.As(fail, &ce) && ce.Status == http.StatusRequestEntityTooLarge && len(idx) > 1 {
				// The collector's limit is lower than ours (or counts
				// differently): halve until it fits.
				h := len(idx) / 2
				todo = append([][]int{idx[:h], idx[h:]}, todo...)
				continue
			}
			failed = append(failed, fail)
			rs := make([]result, len(idx))
			for k, i := range idx {
				rs[k] = result{index: i, reason: fail.Error()}
			}
			settle(rs)
			continue
		}
		settle(c.results(resp, raws, idx))
	}
	return errors.Join(failed...), nil
}

// results maps a 202 answer for the events idx of raws onto them.
func (c *Client) results(resp ingest.Response, raws [][]byte, idx []int) []result {
	reasons := make(map[int]string, len(resp.Rejected))
	for _, r := range resp.Rejected {
		if r.Index < 0 || r.Index >= len(idx) {
			c.log.Warn("ingest client: the collector rejected an index outside the batch", "index", r.Index, "events", len(idx))
			continue
		}
		if r.Error == "" {
			r.Error = "rejected by the collector"
		}
		reasons[r.Index] = r.Error
	}
	// The collector counts an event repeated in the batch once; the events
	// are read again only when the counts differ, which is rare.
	if resp.Accepted != len(idx)-len(reasons) && resp.Accepted != distinctAccepted(raws, idx, reasons) {
		c.log.Warn("ingest client: the collector's counts do not add up", "events", len(idx), "accepted", resp.Accepted, "rejected", len(reasons))
	}
	rs := make([]result, len(idx))
	for k, i := range idx {
		reason, rejected := reasons[k]
		rs[k] = result{index: i, accepted: !rejected, reason: reason}
	}
	return rs
}

// distinctAccepted counts the events of idx that were not rejected, each
// tenant and id once.
func distinctAccepted(raws [][]byte, idx []int, rejected map[int]string) int {
	seen := make(map[eventKey]struct{}, len(idx))
	for k, i := range idx {
		if _, ok := rejected[k]; ok {
			continue
		}
		key := eventKey{id: string(raws[i])} // an event the parser refuses is only itself
		if ev, err := ingest.ParseEvent(raws[i]); err == nil {
			key = eventKey{tenant: ev.Tenant, id: ev.ID}
		}
		seen[key] = struct{}{}
	}
	return len(seen)
}

// chunk groups raws, in order, into POSTs of at most ingest.MaxBatchEvents
// events and ingest.MaxBatchBytes bytes. An event too large for a POST of
// its own goes to tooBig.
func chunk(raws [][]byte) (chunks [][]int, tooBig []int) {
	var cur []int
	size := 1
	for i, raw := range raws {
		add := len(raw) + 1
		if 1+add > ingest.MaxBatchBytes {
			tooBig = append(tooBig, i)
			continue
		}
		if len(cur) > 0 && (len(cur) == ingest.MaxBatchEvents || size+add > ingest.MaxBatchBytes) {
			chunks = append(chunks, cur)
			cur, size = nil, 1
		}
		cur = append(cur, i)
		size += add
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks, tooBig
}

// postRetrying posts the events idx until the collector settles them: a 2xx
// answer, or a permanent failure (fail). It returns err only when ctx ends.
func (c *Client) postRetrying(ctx context.Context, raws [][]byte, idx []int) (resp ingest.Response, fail error, err error) {
	body := make([]byte, 0, 2+len(idx))
	body = append(body, '[')
	for k, i := range idx {
		if k > 0 {
			body = append(body, ',')
		}
		body = append(body, raws[i]...)
	}
	body = append(body, ']')
	gzipped := false
	if c.cfg.Gzip {
		// Compressed once: every retry sends the same bytes.
		if z, err := gzipBody(body); err != nil {
			c.log.Warn("ingest client: gzip failed; sending uncompressed", "err", err)
		} else {
			body, gzipped = z, true
		}
	}
	for attempt := 0; ; attempt++ {
		ans := c.post(ctx, body, gzipped)
		if ans.retry == nil {
			return ans.resp, ans.fail, nil
		}
		if ctx.Err() != nil {
			return ingest.Response{}, nil, fmt.Errorf("ingest client: %d events unsettled: %w", len(idx), ctx.Err())
		}
		// Wait at least what the server asked for; back off on our own
		// schedule when it asked for less.
		wait := max(c.backoff(attempt), ans.retryAfter)
		c.log.Warn("ingest client: retrying a batch", "events", len(idx), "attempt", attempt+2, "wait", wait, "err", ans.retry)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ingest.Response{}, nil, fmt.Errorf("ingest client: %d events unsettled: %w", len(idx), ctx.Err())
		}
		c.retries.Add(1)
	}
}

// backoff is the wait before retry number attempt+1: exponential from 100 ms
// up to MaxBackoff, with "equal jitter" (half fixed, half random) so that
// many clients recovering from the same outage do not retry in lockstep, yet
// the wait still grows.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.MaxBackoff
	if attempt < 30 {
		d = min(d, firstBackoff<<attempt)
	}
	half := d / 2
	return half + mrand.N(d-half+1)
}

// answer is what one POST came to.
type answer struct {
	resp       ingest.Response
	fail       error         // a permanent failure
	retry      error         // why the POST must be retried; nil when it settled the events
	retryAfter time.Duration // what the server asked to wait
}

// post makes one attempt.
func (c *Client) post(ctx context.Context, body []byte, gzipped bool) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		// The URL was validated, so nothing a retry could fix.
		return answer{fail: fmt.Errorf("ingest client: new request: %w", err)}
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	req.Header.Set("Content-Type", "application/json")
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// Network errors and timeouts: whether the collector stored the
		// events is unknown, and resending is safe because of the ids.
		return answer{retry: fmt.Errorf("ingest client: post: %w", err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return answer{retry: fmt.Errorf("ingest client: reading the %d answer: %w", res.StatusCode, err)}
	}
	switch st := res.StatusCode; {
	case st >= 200 && st < 300:
		var ans struct {
			Accepted *int               `json:"accepted"`
			Rejected []ingest.Rejection `json:"rejected"`
		}
		if err := json.Unmarshal(data, &ans); err != nil || ans.Accepted == nil {
			// Not the collector (a proxy or a wrong URL): assuming the
			// events were stored would lose them silently.
			return answer{fail: fmt.Errorf("ingest client: %s answered %d with a body that is not a collector response: %q",
				c.endpoint, st, truncate(string(data), 200))}
		}
		return answer{resp: ingest.Response{Accepted: *ans.Accepted, Rejected: ans.Rejected}}
	case st == http.StatusTooManyRequests || st == http.StatusRequestTimeout || st >= 500:
		return answer{retry: newCollectorError(st, data), retryAfter: parseRetryAfter(res.Header.Get("Retry-After"), time.Now())}
	default:
		return answer{fail: newCollectorError(st, data)}
	}
}

// CollectorError is a permanent refusal by the collector (400, 401, 413 for a
// single event, or any other status that retrying cannot fix). It is what
// SendBatch returns, and its text is the reason OnRejected hears.
type CollectorError struct {
	Status  int    // the HTTP status
	Code    string // the error code of the answer, e.g. "unauthorized"; "" when the body had none
	Message string // the collector's message, or the start of the body
}

// Error says the status and the collector's message.
func (e *CollectorError) Error() string {
	code := ""
	if e.Code != "" {
		code = " (" + e.Code + ")"
	}
	return fmt.Sprintf("ingest client: collector answered %d %s%s: %s", e.Status, http.StatusText(e.Status), code, e.Message)
}

// newCollectorError reads the API's error shape, falling back to the start
// of the body for answers that do not come from the collector.
func newCollectorError(status int, data []byte) *CollectorError {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &CollectorError{Status: status}
	if json.Unmarshal(data, &body) == nil && body.Error.Message != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		e.Message = truncate(strings.TrimSpace(string(data)), 200)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(min(max(s, 0), int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

func gzipBody(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}
