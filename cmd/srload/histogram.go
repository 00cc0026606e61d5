package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram is a log-linear latency histogram in the style of HdrHistogram:
// values (nanoseconds) below 2*subBuckets are counted exactly, and every
// power-of-two range above is split into subBuckets equal buckets, so a
// recorded value is known to within 1/subBuckets (0.8%) of itself. Min, max,
// count and sum are exact.
//
// A histogram is not safe for concurrent use: each worker records into its
// own and the runner merges them at the end.
type histogram struct {
	counts []uint64
	n      uint64
	sum    float64 // nanoseconds; float64 so that hours of load cannot overflow
	min    uint64
	max    uint64
}

const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits
	// histMaxBits bounds the trackable value: 2^40 ns is about 18 minutes.
	// Larger values are counted in the last bucket (max stays exact).
	histMaxBits = 40
)

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, bucketIndex(1<<histMaxBits-1)+1), min: math.MaxUint64}
}

// bucketIndex maps v to its bucket. With s the number of bits below the top
// subBucketBits+1 bits of v (0 for small values), the index is s*subBuckets
// + (v >> s); v>>s lies in [subBuckets, 2*subBuckets) whenever s > 0, so the
// buckets of consecutive s are contiguous and the first 2*subBuckets indexes
// are the values themselves.
func bucketIndex(v uint64) int {
	s := bits.Len64(v) - (subBucketBits + 1)
	if s < 0 {
		s = 0
	}
	return s*subBuckets + int(v>>uint(s))
}

// bucketRange is the inverse of bucketIndex: the smallest and largest value
// counted in bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*subBuckets {
		return uint64(i), uint64(i)
	}
	s := uint(i/subBuckets - 1)
	m := uint64(i - int(s)*subBuckets)
	return m << s, (m+1)<<s - 1
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
	h.counts[bucketIndex(min(v, 1<<histMaxBits-1))]++
}

// merge adds the values of o to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

func (h *histogram) count() uint64 { return h.n }

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

func (h *histogram) minimum() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.min)
}

func (h *histogram) maximum() time.Duration { return time.Duration(h.max) }

// quantile returns the value at quantile q (0 < q <= 1): the smallest
// recorded value v such that at least q of all values are <= v, to the
// histogram's precision. Like HdrHistogram it reports the highest value of
// the bucket that holds it (so it errs high, never low, by less than
// 1/subBuckets), clamped to the exact max.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	// The epsilon keeps q*n that should be an integer (0.99*200) from
	// rounding up to the next rank.
	rank := uint64(math.Ceil(q*float64(h.n) - 1e-7))
	rank = min(max(rank, 1), h.n)
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			if i == len(h.counts)-1 {
				return time.Duration(h.max) // the overflow bucket
			}
			_, hi := bucketRange(i)
			return time.Duration(min(hi, h.max))
		}
	}
	return time.Duration(h.max)
}
