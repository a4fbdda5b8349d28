package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel"
	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

// ingestRun is one ingest run's servers and the keel processes it started
// (the pipeline it measures), on a topic and an ingest key of the run's own.
type ingestRun struct {
	cfg      IngestConfig
	id       string
	topic    string
	key      string
	store    *warehouse.Store
	dir      string
	box      *sandbox // the run's own databases
	collect  *exec.Cmd
	load     *exec.Cmd
	collectU string
	loadU    string
	stderr   io.Writer
	topics   []string // more topics of the run's own, deleted with it
}

// startPipeline starts a collector and (unless deferred) a loader as their
// own processes, on a topic of the run's own, so their memory and CPU are
// theirs alone and keel dev's own loader is not involved.
func (r *ingestRun) startPipeline(ctx context.Context, withLoader bool) error {
	for _, t := range []string{r.topic, r.topic + ".facts"} {
		if err := collector.EnsureTopic(ctx, r.cfg.Brokers, t, 8); err != nil {
			return err
		}
	}
	db, err := postgres.Open(ctx, r.box.PG)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, r.key, err = db.CreateIngestKey(ctx, keel.System, keel.IngestKey{Name: "bench-" + r.id, Rate: -1}); err != nil {
		return err
	}
	cp, err := devstack.FreePort()
	if err != nil {
		return err
	}
	lp, err := devstack.FreePort()
	if err != nil {
		return err
	}
	r.collectU = fmt.Sprintf("http://127.0.0.1:%d", cp)
	r.loadU = fmt.Sprintf("http://127.0.0.1:%d", lp)
	r.collect, err = r.spawn("collect", "--addr", fmt.Sprintf("127.0.0.1:%d", cp))
	if err != nil {
		return err
	}
	if err := devstack.WaitHTTP(ctx, r.collectU+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("bench collector: %w", err)
	}
	if withLoader {
		return r.startLoader(ctx)
	}
	return nil
}

func (r *ingestRun) startLoader(ctx context.Context) error {
	var err error
	addr := strings.TrimPrefix(r.loadU, "http://")
	// Its facts loader reads a facts topic of the run's own: on keel dev's
	// it would join keel dev's group and take partitions from its loader.
	if r.load, err = r.spawn("load", "--addr", addr, "--group", "keel-bench-"+r.id,
		"--facts-topic", r.topic+".facts", "--facts-group", "keel-bench-"+r.id+"-facts"); err != nil {
		return err
	}
	return devstack.WaitHTTP(ctx, r.loadU+"/readyz", time.Minute)
}

// spawn starts `keel cmd` on the run's servers and topic, its log in the
// run's folder; it dies with the bench.
func (r *ingestRun) spawn(cmd string, args ...string) (*exec.Cmd, error) {
	log, err := os.Create(filepath.Join(r.dir, cmd+".log"))
	if err != nil {
		return nil, err
	}
	c := exec.Command(r.cfg.Keel, append([]string{cmd,
		"--pg", r.box.PG, "--clickhouse", r.box.ClickHouse, "--brokers", strings.Join(r.cfg.Brokers, ","), "--topic", r.topic,
		"--log-level", "warn", "--pprof=" + strconv.FormatBool(r.cfg.Pprof)}, args...)...)
	c.Stdout, c.Stderr = log, log
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start keel %s: %w", cmd, err)
	}
	return c, nil
}

// cleanup stops the processes and deletes the run's topics; the run's
// databases go with its sandbox.
func (r *ingestRun) cleanup() {
	for _, c := range []*exec.Cmd{r.collect, r.load} {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				c.Process.Kill()
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	(&kafka.Client{Addr: kafka.TCP(r.cfg.Brokers...), Transport: tr}).DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: append([]string{r.topic, r.topic + ".facts"}, r.topics...)})
}

// post sends bodies with the configured concurrency, retrying 429/503, and
// returns the events accepted. pace, when positive, spaces the bodies out.
func (r *ingestRun) post(ctx context.Context, bodies [][]byte, pace time.Duration) (int64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: r.cfg.Concurrency * 2}, Timeout: time.Minute}
	var accepted atomic.Int64
	var firstErr error
	var mu sync.Mutex
	next := make(chan []byte)
	var wg sync.WaitGroup
	for w := 0; w < r.cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range next {
				n, err := r.postOne(ctx, client, body)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				accepted.Add(int64(n))
			}
		}()
	}
	start := time.Now()
	for i, b := range bodies {
		if pace > 0 {
			if d := time.Until(start.Add(time.Duration(i) * pace)); d > 0 {
				time.Sleep(d)
			}
		}
		select {
		case next <- b:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return accepted.Load(), firstErr
}

func (r *ingestRun) postOne(ctx context.Context, client *http.Client, body []byte) (int, error) {
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.collectU+"/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+r.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil || attempt > 20 {
				return 0, err
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusAccepted:
			var res ingest.Response
			if err := json.Unmarshal(b, &res); err != nil {
				return 0, err
			}
			if len(res.Rejected) > 0 {
				return res.Accepted, fmt.Errorf("collector rejected bench events: %v", res.Rejected[0])
			}
			return res.Accepted, nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			time.Sleep(200 * time.Millisecond)
		default:
			return 0, fmt.Errorf("collector: %s: %s", resp.Status, b)
		}
	}
}

// loaderCounts are the loader's message counters and freshness histogram.
type loaderCounts struct {
	handled   float64 // stored + rejected + duplicate + redelivered
	freshness histogram
}

func (r *ingestRun) scrapeLoader() (loaderCounts, error) {
	var c loaderCounts
	err := scrapeMetrics(r.loadU+"/metrics", func(name string, v float64) {
		switch {
		case strings.HasPrefix(name, "keel_loader_messages_total{"):
			c.handled += v
		case strings.HasPrefix(name, `keel_loader_freshness_seconds_bucket{le="`):
			c.freshness.addBucket(strings.TrimSuffix(strings.TrimPrefix(name, `keel_loader_freshness_seconds_bucket{le="`), `"}`), v)
		case name == "keel_loader_freshness_seconds_count":
			c.freshness.count = v
		}
	})
	return c, err
}

// waitHandled waits until the loader has handled want messages in total.
func (r *ingestRun) waitHandled(ctx context.Context, want float64, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := r.scrapeLoader()
		if err == nil && c.handled >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("loader handled %.0f of %.0f messages after %s", c.handled, want, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
