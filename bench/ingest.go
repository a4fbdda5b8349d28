package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/keelhq/keel/ingest"
	"github.com/keelhq/keel/warehouse"
)

// IngestConfig configures Ingest; `keel bench ingest` fills it from its
// flags.
type IngestConfig struct {
	// Keel is the keel binary whose `collect` and `load` are measured, each
	// started as a process of its own so that its memory and CPU are its
	// alone.
	Keel string
	// PG, ClickHouse and Brokers are the servers of the running stack
	// (keel dev's): Postgres and ClickHouse URLs, Kafka's addresses.
	PG, ClickHouse string
	Brokers        []string
	// Events are sent in POSTs of Batch events (at most
	// ingest.MaxBatchEvents), Concurrency POSTs in flight.
	Events, Batch, Concurrency int
	// Rate and Duration shape the freshness run that follows the
	// throughput run: Rate events/s for Duration. A Rate of 0 skips it.
	Rate     float64
	Duration time.Duration
	// Backlog measures instead the loader draining Events sent while it
	// was stopped.
	Backlog bool
	// Keep leaves the run's own databases (keel_bench_<run>, on the
	// Postgres and ClickHouse servers) for a look afterwards; they are
	// dropped by default. The user's databases are never written.
	Keep bool
	// ClickHouseClient is the clickhouse-client binary of the baseline.
	ClickHouseClient string
	// Pprof makes the measured collector and loader serve /debug/pprof/.
	Pprof bool
	// NoPeer skips the peer: ClickHouse's own Kafka engine reading the same
	// events from a topic (peer.go).
	NoPeer bool
}

// Validate reports the first setting that cannot work, by its flag.
func (c IngestConfig) Validate() error {
	switch {
	case c.Events <= 0 || c.Batch <= 0 || c.Batch > ingest.MaxBatchEvents || c.Concurrency <= 0:
		return fmt.Errorf("bench: --events, --batch (≤ %d) and --concurrency must be positive", ingest.MaxBatchEvents)
	case c.Rate < 0:
		return errors.New("bench: --rate must not be negative (0 skips the freshness run)")
	case c.Rate > 0 && c.Duration <= 0:
		return errors.New("bench: --duration must be positive")
	case c.Keel == "":
		return errors.New("bench: IngestConfig.Keel: the keel binary is required")
	case c.PG == "" || c.ClickHouse == "" || len(c.Brokers) == 0:
		return errors.New("bench: --pg, --clickhouse and --brokers are required")
	case c.ClickHouseClient == "":
		return errors.New("bench: --clickhouse-client is required")
	}
	return nil
}

// Ingest is `keel bench ingest`: DESIGN.md's ingest target. It inserts
// Events generated events with clickhouse-client as the baseline, then
// sends the same events through a collector and a loader of its own, on a
// topic of its own, and reports events/s from the first POST to the last
// event queryable, freshness at full speed and at Rate, and each process's
// peak memory and CPU. It fails when ClickHouse does not hold exactly the
// accepted events: a bench of a pipeline that lost or doubled events would
// measure nothing.
func Ingest(ctx context.Context, cfg IngestConfig, stdout, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	r := &ingestRun{cfg: cfg, id: fmt.Sprintf("%d", time.Now().Unix()), stderr: stderr}
	r.topic = "keel.bench." + r.id
	if _, err := openWarehouse(ctx, cfg.ClickHouse); err != nil {
		return fmt.Errorf("bench needs a running stack (keel dev): %w", err)
	}
	// Everything the run writes goes to databases and topics of its own.
	box, err := newSandbox(ctx, cfg.PG, cfg.ClickHouse, r.id)
	if err != nil {
		return err
	}
	defer box.close(context.WithoutCancel(ctx), cfg.Keep)
	r.box, r.store = box, box.store
	if r.dir, err = os.MkdirTemp("", "keel-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(r.dir)
	defer r.cleanup()

	fmt.Fprintf(stderr, "bench: generating %d events …\n", cfg.Events)
	evs := benchEvents(r.id, cfg.Events, time.Now().UTC())

	// The baseline first, alone on the machine.
	base, err := r.baseline(ctx, evs)
	if err != nil {
		return err
	}
	res := ingestResult{Baseline: base.rate, BaselineCPU: base.cpu, Batch: cfg.Batch, Concurrency: cfg.Concurrency}
	if !cfg.Backlog && !cfg.NoPeer {
		// The peer is a comparison, not Keel: when this ClickHouse cannot
		// read this broker, the run goes on and says so.
		if res.Peer, err = r.kafkaEnginePeer(ctx, evs); err != nil {
			if ctx.Err() != nil {
				return err
			}
			res.Peer = peerResult{Skipped: err.Error()}
			fmt.Fprintf(stderr, "bench: peer not measured: %v\n", err)
		}
	}
	if err := r.startPipeline(ctx, !cfg.Backlog); err != nil {
		return err
	}
	if cfg.Backlog {
		if err := r.backlogRun(ctx, evs, &res); err != nil {
			return err
		}
	} else {
		if err := r.throughputRun(ctx, evs, &res); err != nil {
			return err
		}
		if cfg.Rate > 0 {
			if err := r.freshnessRun(ctx, &res); err != nil {
				return err
			}
		}
	}
	res.print(stdout)
	return nil
}

// openWarehouse opens ClickHouse and checks it has Keel's schema, so that
// a bench against the wrong server fails before it starts anything.
func openWarehouse(ctx context.Context, url string) (*warehouse.Store, error) {
	s, err := warehouse.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s, s.CheckSchema(ctx)
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

// baseline times clickhouse-client inserting the same events, as
// JSONEachRow from a file, into a table shaped like events (same columns,
// engine, partitioning and order; no rollup view), on the same server.
// baselineResult is the baseline's rate and the CPU it took per process.
type baselineResult struct {
	rate float64
	cpu  map[string]time.Duration // "clickhouse-client" and "clickhouse" (the server, when found)
}

func (r *ingestRun) baseline(ctx context.Context, evs []ingest.Event) (res baselineResult, err error) {
	path := filepath.Join(r.dir, "events.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return res, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	now := time.Now().UTC().Format(time.DateTime)
	for i := range evs {
		e := &evs[i]
		props, _ := json.Marshal(e.Props)
		fmt.Fprintf(w, `{"tenant_id":%q,"event_id":%q,"event_type":%q,"user_id":%q,"event_time":%q,"props":%s,"ingested_at":%q,"kafka_topic":%q,"kafka_partition":0,"kafka_offset":%d,"key_id":1}`+"\n",
			e.Tenant, e.ID, e.Type, e.User, e.Time.Format(time.DateTime), props, now, r.topic, i)
	}
	if err := w.Flush(); err != nil {
		return res, err
	}
	f.Close()
	u, err := url.Parse(r.box.ClickHouse)
	if err != nil {
		return res, err
	}
	host, port, _ := net.SplitHostPort(u.Host)
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = "default"
	}
	table := "bench_baseline_" + r.id
	if err := r.store.Conn().Exec(ctx, fmt.Sprintf("CREATE TABLE %s.%s AS %s.events", db, table, db)); err != nil {
		return res, fmt.Errorf("baseline table: %w", err)
	}
	defer r.store.Conn().Exec(context.WithoutCancel(ctx), fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", db, table))
	in, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer in.Close()
	cmd := exec.CommandContext(ctx, r.cfg.ClickHouseClient, "--host", host, "--port", port, "--database", db,
		"--query", "INSERT INTO "+table+" FORMAT JSONEachRow")
	cmd.Stdin = in
	var errb bytes.Buffer
	cmd.Stderr = &errb
	fmt.Fprintf(r.stderr, "bench: baseline — clickhouse-client INSERT … FORMAT JSONEachRow of %d events …\n", len(evs))
	meter := newCPUMeter(map[string]int{"clickhouse": listenerPID(net.JoinHostPort(host, port))})
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("clickhouse-client: %v: %s", err, errb.String())
	}
	el := time.Since(start)
	meter.stop()
	res.cpu = meter.Spent
	res.cpu["clickhouse-client"] = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	var n uint64
	if err := r.store.Conn().QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.%s", db, table)).Scan(&n); err != nil || n != uint64(len(evs)) {
		return res, fmt.Errorf("baseline stored %d rows, want %d (%v)", n, len(evs), err)
	}
	res.rate = float64(len(evs)) / el.Seconds()
	return res, nil
}

// ingestResult is what one run measured.
type ingestResult struct {
	Baseline           float64 // events/s, clickhouse-client JSONEachRow
	BaselineCPU        map[string]time.Duration
	Peer               peerResult
	PipelineCPU        map[string]time.Duration // collector, loader, broker, clickhouse over the throughput run
	Batch, Concurrency int
	Events             int
	SendSeconds        float64
	EndToEnd           float64 // events/s, first POST → last event queryable
	P50, P99           float64 // freshness under full load, seconds
	FreshRate          float64
	FreshP50, FreshP99 float64
	FreshEvents        float64
	LoaderRSS          int64
	CollectorRSS       int64
	LoaderCPU          time.Duration
	CollectorCPU       time.Duration
	Backlog            bool
	DrainSeconds       float64
	Stored             uint64
}

func (r *ingestRun) throughputRun(ctx context.Context, evs []ingest.Event, res *ingestResult) error {
	bodies := encodeBodies(evs, r.cfg.Batch)
	before, err := r.scrapeLoader()
	if err != nil {
		return err
	}
	fmt.Fprintf(r.stderr, "bench: sending %d events through collector → Kafka → loader → ClickHouse …\n", len(evs))
	meter := newCPUMeter(map[string]int{"collector": r.collect.Process.Pid, "loader": r.load.Process.Pid,
		"broker": listenerPID(r.cfg.Brokers[0]), "clickhouse": listenerPID(r.clickhouseAddr())})
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
	meter.stop()
	res.PipelineCPU = meter.Spent
	after, err := r.scrapeLoader()
	if err != nil {
		return err
	}
	res.Events = int(accepted)
	res.SendSeconds = sent.Seconds()
	res.EndToEnd = float64(accepted) / end.Sub(start).Seconds()
	res.P50, res.P99 = quantile(before.freshness, after.freshness, 0.5), quantile(before.freshness, after.freshness, 0.99)
	return r.settle(ctx, res, accepted)
}

// settle records what the loader and the collector used, and checks that
// ClickHouse holds exactly the accepted events.
func (r *ingestRun) settle(ctx context.Context, res *ingestResult, accepted int64) error {
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

func (r *ingestRun) storedCount(ctx context.Context) (uint64, error) {
	var n uint64
	err := r.store.Conn().QueryRow(ctx, "SELECT count() FROM events WHERE startsWith(tenant_id, ?)", "bench-"+r.id+"-").Scan(&n)
	return n, err
}

// freshnessRun sends at a steady rate and reports how long events take from
// the collector to ClickHouse.
func (r *ingestRun) freshnessRun(ctx context.Context, res *ingestResult) error {
	n := int(r.cfg.Rate * r.cfg.Duration.Seconds())
	evs := benchEvents(r.id+"f", n, time.Now().UTC())
	for i := range evs {
		evs[i].Tenant = strings.Replace(evs[i].Tenant, "bench-"+r.id+"f-", "bench-"+r.id+"-f", 1)
	}
	batch := min(max(1, int(r.cfg.Rate/100)), ingest.MaxBatchEvents) // a POST every 10 ms
	bodies := encodeBodies(evs, batch)
	pace := time.Duration(float64(time.Second) * float64(batch) / r.cfg.Rate)
	before, err := r.scrapeLoader()
	if err != nil {
		return err
	}
	fmt.Fprintf(r.stderr, "bench: freshness at %.0f events/s for %s …\n", r.cfg.Rate, r.cfg.Duration)
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
	res.FreshRate, res.FreshEvents = r.cfg.Rate, float64(accepted)
	res.FreshP50, res.FreshP99 = quantile(before.freshness, after.freshness, 0.5), quantile(before.freshness, after.freshness, 0.99)
	return nil
}

// backlogRun fills Kafka first and then measures the loader draining it.
func (r *ingestRun) backlogRun(ctx context.Context, evs []ingest.Event, res *ingestResult) error {
	res.Backlog = true
	bodies := encodeBodies(evs, r.cfg.Batch)
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

func (res *ingestResult) print(w io.Writer) {
	tw := newTable(w)
	fmt.Fprintf(tw, "keel bench ingest\t%d events, %d per POST, %d POSTs in flight\n", res.Events, res.Batch, res.Concurrency)
	fmt.Fprintf(tw, "baseline: clickhouse-client JSONEachRow\t%.0f events/s\n", res.Baseline)
	if res.Peer.Skipped != "" {
		fmt.Fprintf(tw, "peer: ClickHouse's Kafka engine + view\tnot measured: %s\n", res.Peer.Skipped)
	}
	if res.Peer.Rate > 0 {
		fmt.Fprintf(tw, "peer: ClickHouse's Kafka engine + view\t%.0f events/s (%.2f× baseline; %d stored, %d distinct: at least once)\n",
			res.Peer.Rate, res.Peer.Rate/res.Baseline, res.Peer.Stored, res.Peer.Distinct)
	}
	if res.Backlog {
		fmt.Fprintf(tw, "backlog filled (collector → Kafka)\t%.1f s\n", res.SendSeconds)
		fmt.Fprintf(tw, "loader drained the backlog\t%.1f s = %.0f events/s (%.2f× baseline)\n", res.DrainSeconds, res.EndToEnd, res.EndToEnd/res.Baseline)
	} else {
		fmt.Fprintf(tw, "pipeline: accepted → queryable\t%.0f events/s (%.2f× baseline", res.EndToEnd, res.EndToEnd/res.Baseline)
		if res.Peer.Rate > 0 {
			fmt.Fprintf(tw, ", %.2f× peer", res.EndToEnd/res.Peer.Rate)
		}
		fmt.Fprintf(tw, "); collector took them in %.1f s\n", res.SendSeconds)
		fmt.Fprintf(tw, "freshness at full speed\tp50 %.2f s, p99 %.2f s\n", res.P50, res.P99)
		if res.FreshRate > 0 {
			fmt.Fprintf(tw, "freshness at %.0f events/s\tp50 %.3f s, p99 %.3f s (%.0f events)\n", res.FreshRate, res.FreshP50, res.FreshP99, res.FreshEvents)
		}
	}
	fmt.Fprintf(tw, "loader peak RSS\t%s (CPU %.1f s)\n", megabytes(res.LoaderRSS), res.LoaderCPU.Seconds())
	fmt.Fprintf(tw, "collector peak RSS\t%s (CPU %.1f s)\n", megabytes(res.CollectorRSS), res.CollectorCPU.Seconds())
	fmt.Fprintf(tw, "stored in ClickHouse\t%d rows (= accepted)\n", res.Stored)
	perEvent := func(d time.Duration, n int) string {
		return fmt.Sprintf("%.1f", float64(d.Microseconds())/float64(max(n, 1)))
	}
	if res.Events > 0 && res.PipelineCPU != nil {
		var parts []string
		for _, p := range []string{"collector", "loader", "broker", "clickhouse"} {
			if d, ok := res.PipelineCPU[p]; ok {
				parts = append(parts, p+" "+perEvent(d, res.Events))
			} else {
				parts = append(parts, p+" not measured (not a process of this machine)")
			}
		}
		fmt.Fprintf(tw, "CPU-µs per event, pipeline\t%s\n", strings.Join(parts, ", "))
	}
	if res.Events > 0 && res.BaselineCPU != nil {
		parts := []string{"clickhouse-client " + perEvent(res.BaselineCPU["clickhouse-client"], res.Events)}
		if d, ok := res.BaselineCPU["clickhouse"]; ok {
			parts = append(parts, "clickhouse "+perEvent(d, res.Events))
		}
		fmt.Fprintf(tw, "CPU-µs per event, baseline\t%s\n", strings.Join(parts, ", "))
	}
	if res.Peer.ServerSeen {
		fmt.Fprintf(tw, "CPU-µs per event, peer\tclickhouse %s (the producer is the bench's own)\n", perEvent(res.Peer.ServerCPU, res.Events))
	}
	tw.Flush()
}
