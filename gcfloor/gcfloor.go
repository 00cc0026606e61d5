// Package gcfloor keeps the Go collector's heap target at or above a floor.
//
// A Strongroom node keeps little live heap (a few MiB: keys live in
// memguard buffers, outside it) and allocates a few KiB per request. With
// the runtime's default (GOGC=100, a 4 MiB minimum target) that means a
// collection every few milliseconds under load, each with its
// stop-the-world phases: measured on the development machine, a transit
// encrypt load ran about 80 collections a second, which cost the server
// about a fifth of its CPU per request (docs/benchmarks.md). Raising the
// target while the live heap is small, and leaving GOGC's proportional
// rule alone once it is large, removes most of those collections and
// keeps memory bounded: the heap target is max(floor, live × (1 + GOGC/100)).
//
// The floor is a target, not a reservation: memory is used only as garbage
// accumulates up to it. A memory limit (GOMEMLIMIT) still wins over it.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// runtimeHeapMinimum is the Go runtime's least heap target at GOGC=100
// (defaultHeapMinimum in runtime/mgcpacer.go). The runtime scales it with
// GOGC: at GOGC=p the target is never below runtimeHeapMinimum × p/100,
// whatever the live heap. So a GOGC above floor/runtimeHeapMinimum × 100
// would overshoot the floor; Percent stops there, and below that live
// heap the runtime's own minimum makes the target the floor.
const runtimeHeapMinimum = 4 << 20

// Tuner adjusts GOGC after each collection.
type Tuner struct {
	floor   uint64
	base    int // the GOGC in force when the tuner started
	stopped atomic.Bool
	mu      sync.Mutex
	percent int // the GOGC the tuner last set
	samples []metrics.Sample
}

// Start begins tuning so that the heap target is at least floor bytes. It
// reads the GOGC in force (from the environment or debug.SetGCPercent) as
// the proportional rule to keep; with GOGC=off it does nothing. Stop
// restores that GOGC.
func Start(floor uint64) *Tuner {
	t := &Tuner{floor: floor, samples: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.base = debug.SetGCPercent(100)
	debug.SetGCPercent(t.base)
	t.percent = t.base
	if t.base < 0 {
		t.stopped.Store(true)
		return t
	}
	t.adjust()
	t.arm()
	return t
}

// sentinel is garbage the moment it is armed; its cleanup runs after the
// collection that frees it, and arms the next one.
type sentinel struct{ _ *int }

func (t *Tuner) arm() {
	s := &sentinel{}
	runtime.AddCleanup(s, func(t *Tuner) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	}, t)
}

// adjust sets GOGC for the live heap the last collection left.
func (t *Tuner) adjust() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.samples)
	live := uint64(0)
	if t.samples[0].Value.Kind() == metrics.KindUint64 {
		live = t.samples[0].Value.Uint64()
	}
	p := Percent(t.floor, live, t.base)
	// Small moves are not worth a call into the runtime.
	if p != t.percent && (p*10 < t.percent*9 || p*10 > t.percent*11 || p == t.base) {
		debug.SetGCPercent(p)
		t.percent = p
	}
}

// Percent is the GOGC that makes the heap target floor for a live heap of
// live bytes (live × (1 + GOGC/100) = floor), never below base (the
// proportional rule in force) nor above the GOGC whose scaled runtime
// minimum is the floor.
func Percent(floor, live uint64, base int) int {
	limit := floor * 100 / runtimeHeapMinimum
	p := limit
	if live > 0 && live < floor {
		p = min((floor-live)*100/live, limit)
	} else if live >= floor {
		p = 0
	}
	if p < uint64(max(base, 0)) {
		return base
	}
	return int(p)
}

// Stop ends tuning and restores the GOGC in force at Start.
func (t *Tuner) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(t.base)
}
