package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

// within checks that got is v or above it by at most the histogram's
// relative precision (percentiles are rounded up to their bucket's end).
func within(t *testing.T, name string, got, want time.Duration) {
	t.Helper()
	if got < want || float64(got-want) > float64(want)/subBuckets {
		t.Errorf("%s = %v, want %v (+%.2f%%)", name, got, want, 100.0/subBuckets)
	}
}

func TestBucketsContiguous(t *testing.T) {
	var prevHi uint64
	last := bucketIndex(1<<histMaxBits - 1)
	for i := 0; i <= last; i++ {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if hi < lo {
			t.Fatalf("bucket %d: [%d, %d]", i, lo, hi)
		}
		// Width within 1/subBuckets of the bucket's values.
		if width := hi - lo + 1; width > 1 && width*subBuckets > lo {
			t.Fatalf("bucket %d: [%d, %d] is wider than 1/%d of its values", i, lo, hi, subBuckets)
		}
		if bucketIndex(lo) != i || bucketIndex(hi) != i {
			t.Fatalf("bucket %d: bucketIndex(%d)=%d bucketIndex(%d)=%d", i, lo, bucketIndex(lo), hi, bucketIndex(hi))
		}
		prevHi = hi
	}
	if prevHi != 1<<histMaxBits-1 {
		t.Fatalf("last bucket ends at %d", prevHi)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := rnd.Uint64N(1 << histMaxBits)
		lo, hi := bucketRange(bucketIndex(v))
		if v < lo || v > hi {
			t.Fatalf("%d not in its bucket [%d, %d]", v, lo, hi)
		}
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	h := newHistogram()
	for v := 1; v <= 200; v++ {
		h.record(time.Duration(v))
	}
	for _, q := range []float64{0.005, 0.25, 0.5, 0.9, 0.99, 1} {
		want := time.Duration(q * 200)
		if got := h.quantile(q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
}

// 1..10000 µs, each once, in random order.
func TestHistogramUniform(t *testing.T) {
	h := newHistogram()
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, i := range rnd.Perm(10000) {
		h.record(time.Duration(i+1) * time.Microsecond)
	}
	if h.count() != 10000 {
		t.Fatalf("count %d", h.count())
	}
	if got, want := h.mean(), 5000500*time.Nanosecond; got != want {
		t.Errorf("mean = %v, want %v", got, want)
	}
	if h.minimum() != time.Microsecond || h.maximum() != 10*time.Millisecond {
		t.Errorf("min %v max %v", h.minimum(), h.maximum())
	}
	within(t, "p50", h.quantile(0.50), 5000*time.Microsecond)
	within(t, "p90", h.quantile(0.90), 9000*time.Microsecond)
	within(t, "p99", h.quantile(0.99), 9900*time.Microsecond)
	within(t, "p99.9", h.quantile(0.999), 9990*time.Microsecond)
	if got := h.quantile(1); got != 10*time.Millisecond {
		t.Errorf("p100 = %v, want the max", got)
	}
}

// A long tail: 990 requests of 1ms, 9 of 50ms, 1 of 200ms.
func TestHistogramTail(t *testing.T) {
	h := newHistogram()
	for range 990 {
		h.record(time.Millisecond)
	}
	for range 9 {
		h.record(50 * time.Millisecond)
	}
	h.record(200 * time.Millisecond)
	within(t, "p50", h.quantile(0.5), time.Millisecond)
	within(t, "p99", h.quantile(0.99), time.Millisecond)
	within(t, "p99.1", h.quantile(0.991), 50*time.Millisecond)
	within(t, "p99.9", h.quantile(0.999), 50*time.Millisecond)
	if got := h.maximum(); got != 200*time.Millisecond {
		t.Errorf("max = %v", got)
	}
	if got, want := h.mean(), time.Duration((990*1+9*50+200)*float64(time.Millisecond)/1000); got != want {
		t.Errorf("mean = %v, want %v", got, want)
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	a, b, all := newHistogram(), newHistogram(), newHistogram()
	if a.quantile(0.5) != 0 || a.mean() != 0 || a.minimum() != 0 || a.maximum() != 0 {
		t.Fatal("empty histogram is not all zero")
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	for i := range 5000 {
		d := time.Duration(rnd.ExpFloat64() * float64(time.Millisecond))
		all.record(d)
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	a.merge(b)
	a.merge(newHistogram()) // merging an empty one changes nothing
	for _, q := range []float64{0.1, 0.5, 0.9, 0.99, 0.999, 1} {
		if a.quantile(q) != all.quantile(q) {
			t.Errorf("quantile(%v): merged %v, direct %v", q, a.quantile(q), all.quantile(q))
		}
	}
	if a.count() != all.count() || a.minimum() != all.minimum() || a.maximum() != all.maximum() {
		t.Errorf("merged count/min/max differ")
	}
	// Sums added in another order differ in the last bits only.
	if diff := a.mean() - all.mean(); diff > 1 || diff < -1 {
		t.Errorf("merged mean %v, direct %v", a.mean(), all.mean())
	}
}

func TestHistogramHugeValue(t *testing.T) {
	h := newHistogram()
	h.record(time.Millisecond)
	h.record(time.Hour) // beyond the trackable range: counted, max exact
	if h.maximum() != time.Hour || h.quantile(1) != time.Hour {
		t.Fatalf("max %v p100 %v", h.maximum(), h.quantile(1))
	}
	h.record(-time.Second) // cannot happen; counted as 0
	if h.minimum() != 0 {
		t.Fatalf("min %v", h.minimum())
	}
}
