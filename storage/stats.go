package storage

import (
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of the latency buckets that TxStats
// counts; a transaction slower than the last bound is only in the total.
var LatencyBounds = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 10 * time.Second,
}

// TxStats counts the transactions of a Store returned by Wrap, for every
// backend. Counters only grow.
type TxStats struct {
	// Update and View are the transactions run, by kind.
	Update, View Latency
	// Conflicts counts attempts that ended in ErrConflict (from the
	// backend's commit or from fn); Retries the attempts started again
	// after one; GaveUp the Updates that returned ErrConflict after
	// MaxAttempts.
	Conflicts, Retries, GaveUp uint64
}

// Latency is a cumulative latency histogram: Buckets[i] counts the calls
// that took at most LatencyBounds[i] (cumulative, as Prometheus expects),
// Count all calls and Sum their total time. An Update's time includes its
// retries and pauses.
type Latency struct {
	Count   uint64
	Sum     time.Duration
	Buckets []uint64
}

// StatsReporter is implemented by the Store that Wrap returns.
type StatsReporter interface {
	TxStats() TxStats
}

// latency is the lock-free recorder behind Latency.
type latency struct {
	count, sum atomic.Uint64
	buckets    [16]atomic.Uint64 // len(LatencyBounds) <= 16
}

func (l *latency) observe(d time.Duration) {
	l.count.Add(1)
	l.sum.Add(uint64(d))
	for i, b := range LatencyBounds {
		if d <= b {
			l.buckets[i].Add(1)
			return
		}
	}
}

func (l *latency) snapshot() Latency {
	out := Latency{Count: l.count.Load(), Sum: time.Duration(l.sum.Load()), Buckets: make([]uint64, len(LatencyBounds))}
	var run uint64
	for i := range LatencyBounds {
		run += l.buckets[i].Load()
		out.Buckets[i] = run
	}
	return out
}

type txCounters struct {
	update, view               latency
	conflicts, retries, gaveUp atomic.Uint64
}

// TxStats implements StatsReporter.
func (s *store) TxStats() TxStats {
	return TxStats{
		Update: s.stats.update.snapshot(), View: s.stats.view.snapshot(),
		Conflicts: s.stats.conflicts.Load(), Retries: s.stats.retries.Load(), GaveUp: s.stats.gaveUp.Load(),
	}
}

var _ StatsReporter = (*store)(nil)
