package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keelhq/keel/devstack"
	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/ingest/collector"
	"github.com/keelhq/keel/postgres"
	"github.com/keelhq/keel/warehouse"
)

func runBench(ctx context.Context, args []string, env *Env, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "console" {
		return runBenchConsole(ctx, args[1:], env, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "ingest" {
		return errors.New("usage: keel bench ingest [--events N] [--backlog] [--rate R --duration D] (beside a running keel dev)\n   or: " + strings.TrimPrefix(benchConsoleUsage, "usage: "))
	}
	var f benchFlags
	fs := newFlagSet("bench ingest", stderr)
	f.common.register(fs, env)
	fs.IntVar(&f.events, "events", 1_000_000, "events to send in the throughput run")
	fs.IntVar(&f.batch, "batch", ingest.MaxBatchEvents, "events per POST")
	fs.IntVar(&f.concurrency, "concurrency", 4, "POSTs in flight")
	fs.Float64Var(&f.rate, "rate", 10000, "events/s of the freshness run (0 skips it)")
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "length of the freshness run")
	fs.BoolVar(&f.backlog, "backlog", false, "instead: send all events with the loader stopped, then measure the loader draining the backlog")
	fs.BoolVar(&f.keep, "keep", false, "keep the bench events in ClickHouse (they are deleted by default)")
	fs.StringVar(&f.chClient, "clickhouse-client", "clickhouse-client", "clickhouse-client binary for the baseline")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if f.events <= 0 || f.batch <= 0 || f.batch > ingest.MaxBatchEvents || f.concurrency <= 0 {
		return errors.New("bench: --events, --batch (≤ 1000) and --concurrency must be positive")
	}
	return f.run(ctx, stdout, stderr)
}

type benchFlags struct {
	common
	events, batch, concurrency int
	rate                       float64
	duration                   time.Duration
	backlog, keep              bool
	chClient                   string
}

// benchRun is one run's servers and the processes it started.
type benchRun struct {
	f        *benchFlags
	id       string
	topic    string
	key      string
	store    *warehouse.Store
	dir      string
	collect  *exec.Cmd
	load     *exec.Cmd
	collectU string
	loadU    string
	stderr   io.Writer
}

func (f *benchFlags) run(ctx context.Context, stdout, stderr io.Writer) error {
	r := &benchRun{f: f, id: fmt.Sprintf("%d", time.Now().Unix()), stderr: stderr}
	r.topic = "keel.bench." + r.id
	var err error
	if r.store, err = openClickHouse(ctx, f.logger(stderr), f.clickhouse, false); err != nil {
		return fmt.Errorf("bench needs a running stack (keel dev): %w", err)
	}
	defer r.store.Close()
	if r.dir, err = os.MkdirTemp("", "keel-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(r.dir)
	defer r.cleanup()

	fmt.Fprintf(stderr, "bench: generating %d events …\n", f.events)
	evs := benchEvents(r.id, f.events, time.Now().UTC())

	// The baseline first, alone on the machine.
	base, err := r.baseline(ctx, evs)
	if err != nil {
		return err
	}
	if err := r.startPipeline(ctx, !f.backlog); err != nil {
		return err
	}
	var res benchResult
	res.Baseline = base
	if f.backlog {
		if err := r.backlogRun(ctx, evs, &res); err != nil {
			return err
		}
	} else {
		if err := r.throughputRun(ctx, evs, &res); err != nil {
			return err
		}
		if f.rate > 0 {
			if err := r.freshnessRun(ctx, &res); err != nil {
				return err
			}
		}
	}
	res.print(stdout, f)
	return nil
}

// benchEvents makes n realistic events (~170 bytes each) of tenants
// bench-<id>-*, with their times spread over the last day.
func benchEvents(id string, n int, now time.Time) []ingest.Event {
	types := []string{ingest.TypeFeatureUsed, ingest.TypePageView, ingest.TypeFeatureUsed, ingest.TypeLogin, ingest.TypeAPICall}
	features := []string{"export", "reports", "search", "dashboard", "sharing", "alerts"}
	out := make([]ingest.Event, n)
	for i := range out {
		out[i] = ingest.Event{
			ID:     fmt.Sprintf("bench-%s-%09d", id, i),
			Type:   types[i%len(types)],
			Tenant: fmt.Sprintf("bench-%s-%03d", id, i%500),
			User:   fmt.Sprintf("user-%05d", i%20000),
			Time:   now.Add(-time.Duration(i%86400) * time.Second).Truncate(time.Second),
			Props:  fmt.Sprintf(`{"feature":%q,"plan":"business"}`, features[i%len(features)]),
		}
	}
	return out
}

func eventJSON(e *ingest.Event) []byte {
	return fmt.Appendf(nil, `{"id":%q,"type":%q,"tenant":%q,"user":%q,"time":%q,"props":%s}`,
		e.ID, e.Type, e.Tenant, e.User, e.Time.Format(time.RFC3339), e.Props)
}

// baseline times clickhouse-client inserting the same events, as
// JSONEachRow from a file, into a table shaped like events (same columns,
// engine, partitioning and order; no rollup view), on the same server.
func (r *benchRun) baseline(ctx context.Context, evs []ingest.Event) (rate float64, err error) {
	path := filepath.Join(r.dir, "events.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	now := time.Now().UTC().Format(time.DateTime)
	for i := range evs {
		e := &evs[i]
		props, _ := json.Marshal(e.Props)
		fmt.Fprintf(w, `{"tenant_id":%q,"event_id":%q,"event_type":%q,"user_id":%q,"event_time":%q,"props":%s,"ingested_at":%q,"kafka_topic":%q,"kafka_partition":0,"kafka_offset":%d}`+"\n",
			e.Tenant, e.ID, e.Type, e.User, e.Time.Format(time.DateTime), props, now, r.topic, i)
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	f.Close()
	u, err := url.Parse(r.f.clickhouse)
	if err != nil {
		return 0, err
	}
	host, port, _ := net.SplitHostPort(u.Host)
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = "default"
	}
	table := "bench_baseline_" + r.id
	if err := r.store.Conn().Exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s AS %s.events", db, table, db)); err != nil {
		return 0, fmt.Errorf("baseline table: %w", err)
	}
	defer r.store.Conn().Exec(context.WithoutCancel(ctx), fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", db, table))
	in, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	cmd := exec.CommandContext(ctx, r.f.chClient, "--host", host, "--port", port, "--database", db,
		"--query", "INSERT INTO "+table+" FORMAT JSONEachRow")
	cmd.Stdin = in
	var errb bytes.Buffer
	cmd.Stderr = &errb
	fmt.Fprintf(r.stderr, "bench: baseline — clickhouse-client INSERT … FORMAT JSONEachRow of %d events …\n", len(evs))
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("clickhouse-client: %v: %s", err, errb.String())
	}
	el := time.Since(start)
	var n uint64
	if err := r.store.Conn().QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.%s", db, table)).Scan(&n); err != nil || n != uint64(len(evs)) {
		return 0, fmt.Errorf("baseline stored %d rows, want %d (%v)", n, len(evs), err)
	}
	return float64(len(evs)) / el.Seconds(), nil
}

// startPipeline starts a collector and (unless deferred) a loader as their
// own processes, on a topic of the run's own, so their memory and CPU are
// theirs alone and keel dev's own loader is not involved.
func (r *benchRun) startPipeline(ctx context.Context, withLoader bool) error {
	if err := collector.EnsureTopic(ctx, r.f.brokerList(), r.topic, 8); err != nil {
		return err
	}
	db, err := postgres.Open(ctx, r.f.pg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, r.key, err = db.CreateIngestKey(ctx, postgres.NewIngestKeyParams{Name: "bench-" + r.id, Rate: -1}); err != nil {
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
	if err := waitReady(ctx, r.collectU+"/readyz"); err != nil {
		return fmt.Errorf("bench collector: %w", err)
	}
	if withLoader {
		return r.startLoader(ctx)
	}
	return nil
}

func (r *benchRun) startLoader(ctx context.Context) error {
	var err error
	addr := strings.TrimPrefix(r.loadU, "http://")
	if r.load, err = r.spawn("load", "--addr", addr, "--group", "keel-bench-"+r.id); err != nil {
		return err
	}
	return waitReady(ctx, r.loadU+"/readyz")
}

func (r *benchRun) spawn(cmd string, args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(r.dir, cmd+".log"))
	if err != nil {
		return nil, err
	}
	c := exec.Command(exe, append([]string{cmd,
		"--pg", r.f.pg, "--clickhouse", r.f.clickhouse, "--brokers", r.f.brokers, "--topic", r.topic, "--log-level", "warn"}, args...)...)
	c.Env = append(os.Environ(), "KEEL_PPROF="+os.Getenv("KEEL_PPROF"))
	c.Stdout, c.Stderr = log, log
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start keel %s: %w", cmd, err)
	}
	return c, nil
}

func (r *benchRun) cleanup() {
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
	(&kafka.Client{Addr: kafka.TCP(r.f.brokerList()...), Transport: tr}).DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{r.topic}})
	if !r.f.keep {
		// Mutations run in the background; the bench tenants disappear shortly.
		for _, t := range []string{"events", "activity_hourly"} {
			r.store.Conn().Exec(ctx, fmt.Sprintf("ALTER TABLE %s DELETE WHERE startsWith(tenant_id, 'bench-%s-')", t, r.id))
		}
	}
}

// encodeBodies encodes the events into request bodies of per events ahead of
// time, so the clock measures Keel and not the bench's JSON encoding.
func encodeBodies(evs []ingest.Event, per int) [][]byte {
	var out [][]byte
	for i := 0; i < len(evs); i += per {
		var b bytes.Buffer
		b.WriteByte('[')
		for j := i; j < min(i+per, len(evs)); j++ {
			if j > i {
				b.WriteByte(',')
			}
			b.Write(eventJSON(&evs[j]))
		}
		b.WriteByte(']')
		out = append(out, b.Bytes())
	}
	return out
}

// post sends bodies with the configured concurrency, retrying 429/503, and
// returns the events accepted. pace, when positive, spaces the bodies out.
func (r *benchRun) post(ctx context.Context, bodies [][]byte, pace time.Duration) (int64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: r.f.concurrency * 2}, Timeout: time.Minute}
	var accepted atomic.Int64
	var firstErr error
	var mu sync.Mutex
	next := make(chan []byte)
	var wg sync.WaitGroup
	for w := 0; w < r.f.concurrency; w++ {
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

func (r *benchRun) postOne(ctx context.Context, client *http.Client, body []byte) (int, error) {
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

// loaderCounts reads the loader's message counters and freshness histogram.
type loaderCounts struct {
	handled  float64             // stored + rejected + duplicate + redelivered
	buckets  map[float64]float64 // freshness: upper bound → cumulative count
	freshSum float64
	freshN   float64
}

func (r *benchRun) scrapeLoader() (loaderCounts, error) {
	c := loaderCounts{buckets: map[float64]float64{}}
	resp, err := http.Get(r.loadU + "/metrics")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "keel_loader_messages_total{"):
			c.handled += v
		case strings.HasPrefix(name, `keel_loader_freshness_seconds_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(name, `keel_loader_freshness_seconds_bucket{le="`), `"}`)
			b := math.Inf(1)
			if le != "+Inf" {
				b, _ = strconv.ParseFloat(le, 64)
			}
			c.buckets[b] = v
		case name == "keel_loader_freshness_seconds_sum":
			c.freshSum = v
		case name == "keel_loader_freshness_seconds_count":
			c.freshN = v
		}
	}
	return c, s.Err()
}

// quantile estimates a quantile of the freshness observed between two
// scrapes, interpolating linearly inside the histogram bucket.
func quantile(before, after loaderCounts, q float64) float64 {
	var bounds []float64
	for b := range after.buckets {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	total := after.freshN - before.freshN
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for _, b := range bounds {
		c := after.buckets[b] - before.buckets[b]
		if c >= rank {
			if math.IsInf(b, 1) {
				return prevBound
			}
			if c == prevCount {
				return b
			}
			return prevBound + (b-prevBound)*(rank-prevCount)/(c-prevCount)
		}
		prevBound, prevCount = b, c
	}
	return prevBound
}

// waitHandled waits until the loader has handled want messages in total.
func (r *benchRun) waitHandled(ctx context.Context, want float64, timeout time.Duration) (time.Time, error) {
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

// procStats reads a process's peak resident memory and CPU time.
func procStats(pid int) (peakRSS int64, cpu time.Duration) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				peakRSS = kb << 10
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+2:])
			if len(f) > 13 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
			}
		}
	}
	return peakRSS, cpu
}

func (r *benchRun) storedCount(ctx context.Context) (uint64, error) {
	var n uint64
	err := r.store.Conn().QueryRow(ctx, "SELECT count() FROM events WHERE startsWith(tenant_id, ?)", "bench-"+r.id+"-").Scan(&n)
	return n, err
}

type benchResult struct {
	Baseline     float64 // events/s, clickhouse-client JSONEachRow
	Events       int
	SendSeconds  float64
	EndToEnd     float64 // events/s, first POST → last event queryable
	P50, P99     float64 // freshness under full load, seconds
	FreshRate    float64
	FreshP50     float64
	FreshP99     float64
	FreshEvents  float64
	LoaderRSS    int64
	CollectorRSS int64
	LoaderCPU    time.Duration
	CollectorCPU time.Duration
	Backlog      bool
	DrainSeconds float64
	Stored       uint64
}

func (r *benchRun) throughputRun(ctx context.Context, evs []ingest.Event, res *benchResult) error {
	bodies := encodeBodies(evs, r.f.batch)
	before, err := r.scrapeLoader()
	if err != nil {
		return err
	}
	fmt.Fprintf(r.stderr, "bench: sending %d events through collector → Kafka → loader → ClickHouse …\n", len(evs))
	start := time.Now()
	accepted, err := r.post(ctx, bodies, 0)
	if err != nil {
		return err
	}
	sent := time.Since(start)
	end, err := r.waitHandled(ctx, before.handled+float64(accepted), 10*time.Minute)
	if err != nil {
		return err
	}
	after, err := r.scrapeLoader()
	if err != nil {
		return err
	}
	res.Events = int(accepted)
	res.SendSeconds = sent.Seconds()
	res.EndToEnd = float64(accepted) / end.Sub(start).Seconds()
	res.P50, res.P99 = quantile(before, after, 0.5), quantile(before, after, 0.99)
	return r.settle(ctx, res, accepted)
}

// settle records what the loader and the collector used, and checks that
// ClickHouse holds exactly the accepted events: a bench of a pipeline that
// lost or doubled events would measure nothing.
func (r *benchRun) settle(ctx context.Context, res *benchResult, accepted int64) error {
	res.LoaderRSS, res.LoaderCPU = procStats(r.load.Process.Pid)
	res.CollectorRSS, res.CollectorCPU = procStats(r.collect.Process.Pid)
	var err error
	if res.Stored, err = r.storedCount(ctx); err != nil {
		return err
	}
	if res.Stored != uint64(accepted) {
		return fmt.Errorf("bench: %d events accepted but %d stored", accepted, res.Stored)
	}
	return nil
}

// freshnessRun sends at a steady rate and reports how long events take from
// the collector to ClickHouse.
func (r *benchRun) freshnessRun(ctx context.Context, res *benchResult) error {
	n := int(r.f.rate * r.f.duration.Seconds())
	evs := benchEvents(r.id+"f", n, time.Now().UTC())
	for i := range evs {
		evs[i].Tenant = strings.Replace(evs[i].Tenant, "bench-"+r.id+"f-", "bench-"+r.id+"-f", 1)
	}
	batch := min(max(1, int(r.f.rate/100)), ingest.MaxBatchEvents) // a POST every 10 ms
	bodies := encodeBodies(evs, batch)
	pace := time.Duration(float64(time.Second) * float64(batch) / r.f.rate)
	before, err := r.scrapeLoader()
	if err != nil {
		return err
	}
	fmt.Fprintf(r.stderr, "bench: freshness at %.0f events/s for %s …\n", r.f.rate, r.f.duration)
	accepted, err := r.post(ctx, bodies, pace)
	if err != nil {
		return err
	}
	if _, err := r.waitHandled(ctx, before.handled+float64(accepted), 5*time.Minute); err != nil {
		return err
	}
	after, err := r.scrapeLoader()
	if err != nil {
		return err
	}
	res.FreshRate, res.FreshEvents = r.f.rate, float64(accepted)
	res.FreshP50, res.FreshP99 = quantile(before, after, 0.5), quantile(before, after, 0.99)
	return nil
}

// backlogRun fills Kafka first and then measures the loader draining it.
func (r *benchRun) backlogRun(ctx context.Context, evs []ingest.Event, res *benchResult) error {
	res.Backlog = true
	bodies := encodeBodies(evs, r.f.batch)
	fmt.Fprintf(r.stderr, "bench: filling a backlog of %d events with the loader stopped …\n", len(evs))
	start := time.Now()
	accepted, err := r.post(ctx, bodies, 0)
	if err != nil {
		return err
	}
	res.SendSeconds = time.Since(start).Seconds()
	res.Events = int(accepted)
	fmt.Fprintf(r.stderr, "bench: starting the loader on the backlog …\n")
	start = time.Now()
	if err := r.startLoader(ctx); err != nil {
		return err
	}
	if _, err := r.waitHandled(ctx, float64(accepted), 30*time.Minute); err != nil {
		return err
	}
	res.DrainSeconds = time.Since(start).Seconds()
	res.EndToEnd = float64(accepted) / res.DrainSeconds
	return r.settle(ctx, res, accepted)
}

func (res *benchResult) print(w io.Writer, f *benchFlags) {
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "keel bench ingest\t%d events, %d per POST, %d POSTs in flight\n", res.Events, f.batch, f.concurrency)
	fmt.Fprintf(tw, "baseline: clickhouse-client JSONEachRow\t%.0f events/s\n", res.Baseline)
	if res.Backlog {
		fmt.Fprintf(tw, "backlog filled (collector → Kafka)\t%.1f s\n", res.SendSeconds)
		fmt.Fprintf(tw, "loader drained the backlog\t%.1f s = %.0f events/s (%.2f× baseline)\n", res.DrainSeconds, res.EndToEnd, res.EndToEnd/res.Baseline)
	} else {
		fmt.Fprintf(tw, "pipeline: accepted → queryable\t%.0f events/s (%.2f× baseline); collector took them in %.1f s\n", res.EndToEnd, res.EndToEnd/res.Baseline, res.SendSeconds)
		fmt.Fprintf(tw, "freshness at full speed\tp50 %.2f s, p99 %.2f s\n", res.P50, res.P99)
		if res.FreshRate > 0 {
			fmt.Fprintf(tw, "freshness at %.0f events/s\tp50 %.3f s, p99 %.3f s (%.0f events)\n", res.FreshRate, res.FreshP50, res.FreshP99, res.FreshEvents)
		}
	}
	fmt.Fprintf(tw, "loader peak RSS\t%s (CPU %.1f s)\n", mb(res.LoaderRSS), res.LoaderCPU.Seconds())
	fmt.Fprintf(tw, "collector peak RSS\t%s (CPU %.1f s)\n", mb(res.CollectorRSS), res.CollectorCPU.Seconds())
	fmt.Fprintf(tw, "stored in ClickHouse\t%d rows (= accepted)\n", res.Stored)
	tw.Flush()
}
