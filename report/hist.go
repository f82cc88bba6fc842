package report

import (
	"math"
	"slices"
)

// Percentiles come from log-scale histograms (the DDSketch layout): a
// duration of v ms > 0 falls in bucket ceil(log_γ v) and is read back as
// 2γ^i/(γ+1), within RelativeError of v; 0 has a bucket of its own.
// Histograms merge by adding their buckets, so a percentile over any days
// and keys is as exact as over one: the nearest-rank percentile's bucket is
// found exactly, and its value is within RelativeError.
const gamma = 1.02

// RelativeError bounds how far a percentile read from the rollups is from
// the exact nearest-rank percentile of the same durations: (γ−1)/(γ+1),
// just under 1%.
const RelativeError = (gamma - 1) / (gamma + 1)

var logGamma = math.Log(gamma)

// zeroBucket holds durations of 0 ms (and less: clocks may disagree).
const zeroBucket = -1

// hist is a histogram: bucket -> count.
type hist map[int]int64

func bucketOf(ms int64) int {
	if ms <= 0 {
		return zeroBucket
	}
	return int(math.Ceil(math.Log(float64(ms))/logGamma - 1e-9))
}

// bucketValue is the duration bucket b stands for, in ms.
func bucketValue(b int) float64 {
	if b == zeroBucket {
		return 0
	}
	return 2 * math.Pow(gamma, float64(b)) / (gamma + 1)
}

func (h hist) count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 1) in ms: the
// value of the bucket holding the ceil(p·n)-th smallest duration; ok is
// false for an empty histogram.
func (h hist) percentile(p float64) (ms float64, ok bool) {
	n := h.count()
	if n <= 0 {
		return 0, false
	}
	rank := int64(math.Ceil(p * float64(n)))
	rank = max(rank, 1)
	keys := make([]int, 0, len(h))
	for k, c := range h {
		if c > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var seen int64
	for _, k := range keys {
		seen += h[k]
		if seen >= rank {
			return bucketValue(k), true
		}
	}
	return bucketValue(keys[len(keys)-1]), true
}
