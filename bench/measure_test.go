package bench

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBenchPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 … 1, unsorted on purpose
	}
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"none", nil, 95, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"one p95", ms(7), 95, 7 * time.Millisecond},
		{"p50 of 4", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p95 of 4 is the max", ms(4, 1, 3, 2), 95, 4 * time.Millisecond},
		{"p50 of 100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p95 of 100", ms(hundred...), 95, 95 * time.Millisecond},
		{"p100 of 100", ms(hundred...), 100, 100 * time.Millisecond},
		{"p95 of 40 is the 38th", ms(hundred[60:]...), 95, 38 * time.Millisecond},
		{"p95 of 20 is the 19th", ms(hundred[80:]...), 95, 19 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.ds, tt.p); got != tt.want {
			t.Errorf("%s: percentile(p%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
	// percentile must not reorder its input (the caller's slice is shared).
	in := ms(3, 1, 2)
	percentile(in, 50)
	if !slices.Equal(in, ms(3, 1, 2)) {
		t.Errorf("percentile sorted its input: %v", in)
	}
}

// TestBenchHistogramQuantile reads the freshness between two scrapes of a
// histogram, as the ingest bench does: only what was observed in between
// counts.
func TestBenchHistogramQuantile(t *testing.T) {
	scrape := func(text string) histogram {
		var h histogram
		err := parseMetrics(strings.NewReader(text), func(name string, v float64) {
			if le, ok := strings.CutPrefix(name, `f_bucket{le="`); ok {
				h.addBucket(strings.TrimSuffix(le, `"}`), v)
			} else if name == "f_count" {
				h.count = v
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := scrape("# HELP f freshness\n# TYPE f histogram\n" +
		`f_bucket{le="0.1"} 10` + "\n" + `f_bucket{le="0.25"} 10` + "\n" + `f_bucket{le="0.5"} 10` + "\n" +
		`f_bucket{le="1"} 10` + "\n" + `f_bucket{le="+Inf"} 10` + "\nf_sum 0.5\nf_count 10\n")
	// 100 more: 50 in (0.1, 0.25], 50 in (0.25, 0.5].
	after := scrape(`f_bucket{le="0.1"} 10` + "\n" + `f_bucket{le="0.25"} 60` + "\n" + `f_bucket{le="0.5"} 110` + "\n" +
		`f_bucket{le="1"} 110` + "\n" + `f_bucket{le="+Inf"} 110` + "\nf_count 110\n")
	// Ten more above the last bound: the estimate stops at that bound.
	over := scrape(`f_bucket{le="0.1"} 10` + "\n" + `f_bucket{le="0.25"} 60` + "\n" + `f_bucket{le="0.5"} 110` + "\n" +
		`f_bucket{le="1"} 110` + "\n" + `f_bucket{le="+Inf"} 120` + "\nf_count 120\n")
	tests := []struct {
		name          string
		before, after histogram
		q, want       float64
	}{
		{"p50 at the top of the first bucket with any", before, after, 0.5, 0.25},
		{"p99 interpolated in its bucket", before, after, 0.99, 0.495},
		{"p10 interpolated", before, after, 0.1, 0.13},
		{"p99 above the last bound", before, over, 0.99, 1},
	}
	for _, tt := range tests {
		if got := quantile(tt.before, tt.after, tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: quantile(%v) = %v, want %v", tt.name, tt.q, got, tt.want)
		}
	}
	if got := quantile(after, after, 0.5); !math.IsNaN(got) {
		t.Errorf("quantile with nothing observed in between = %v, want NaN", got)
	}
}

// TestBenchProcStats reads this test's own process: it has used some CPU
// and holds some memory.
func TestBenchProcStats(t *testing.T) {
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	rss, cpu := procStats(os.Getpid())
	if rss < 32<<20 {
		t.Errorf("peak RSS %d bytes, want at least the 32 MiB just written", rss)
	}
	if cpu <= 0 {
		t.Errorf("CPU %v, want some", cpu)
	}
	if rss, cpu := procStats(-1); rss != 0 || cpu != 0 {
		t.Errorf("procStats of no process = %d, %v; want 0, 0", rss, cpu)
	}
	_ = buf[len(buf)-1]
}
