// Package bench holds Keel's own benchmarks, each run as `keel bench NAME`
// beside a running `keel dev`: they measure DESIGN.md's performance targets
// against the real servers and print a report for the README.
//
//   - Ingest (ingest.go): events/s from the collector's 202 to queryable in
//     ClickHouse, against clickhouse-client inserting the same events;
//     freshness; the loader's and the collector's memory and CPU.
//   - Console (console.go, crawl.go): every console page's latency as each
//     demo role, the pages found by crawling.
//
// A benchmark is one exported function, Name(ctx, NameConfig, stdout,
// stderr), whose NameConfig has a Validate that names the bad setting; the
// report goes to stdout and progress notes to stderr. Adding one (`keel
// bench revenue`, say) is a file of its own here with that pair, and one
// entry in cmd/keel's list of benchmarks that turns its flags into the
// Config. What benchmarks share is in measure.go (percentiles, histogram
// quantiles, a process's CPU and memory) and
// report.go (the report's tables).
package bench
