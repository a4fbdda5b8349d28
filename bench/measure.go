package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of ds: the
// smallest value that at least p% of them do not exceed. It is a value
// that was actually observed; 0 for no values.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// ms is d in milliseconds, to a tenth.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

// histogram is a Prometheus histogram as scraped: cumulative counts by
// upper bound, and the count of observations.
type histogram struct {
	buckets map[float64]float64 // upper bound (+Inf included) → cumulative count
	count   float64
}

// addBucket records the bucket line `NAME_bucket{le="B"} V` of a scrape;
// le is B as written.
func (h *histogram) addBucket(le string, v float64) {
	b := math.Inf(1)
	if le != "+Inf" {
		b, _ = strconv.ParseFloat(le, 64)
	}
	if h.buckets == nil {
		h.buckets = map[float64]float64{}
	}
	h.buckets[b] = v
}

// quantile estimates quantile q of the observations made between two
// scrapes of one histogram, interpolating linearly inside the bucket it
// falls in (as Prometheus's histogram_quantile does). It is NaN when
// nothing was observed in between.
func quantile(before, after histogram, q float64) float64 {
	var bounds []float64
	for b := range after.buckets {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	total := after.count - before.count
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

// scrapeMetrics reads a Prometheus text exposition and calls sample for
// every sample line with its name (labels included, as written) and value.
func scrapeMetrics(url string, sample func(name string, v float64)) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body, sample)
}

func parseMetrics(r io.Reader, sample func(name string, v float64)) error {
	s := bufio.NewScanner(r)
	for s.Scan() {
		name, val, ok := strings.Cut(s.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		sample(name, v)
	}
	return s.Err()
}

// procStats reads a process's peak resident memory (VmHWM) and the CPU
// time it has used, user and system.
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
