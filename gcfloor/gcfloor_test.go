package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		floor, live uint64
		base, want  int
	}{
		{64 * mib, 1 * mib, 100, 1600},  // the runtime's minimum, 4 MiB × 16, is the floor
		{64 * mib, 3 * mib, 100, 1600},  // 3 MiB × 17 < 64 MiB: the minimum again
		{64 * mib, 8 * mib, 100, 700},   // 8 MiB × 8 = 64 MiB
		{64 * mib, 16 * mib, 100, 300},  // target 64 MiB
		{64 * mib, 40 * mib, 100, 100},  // 2 × live is above the floor: GOGC's rule
		{64 * mib, 100 * mib, 100, 100}, // live above the floor
		{64 * mib, 16 * mib, 400, 400},  // never below the operator's GOGC
		{64 * mib, 0, 100, 1600},
		{2 * mib, 1 * mib, 100, 100}, // a floor under the runtime's own minimum
	} {
		if got := Percent(c.floor, c.live, c.base); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.floor, c.live, c.base, got, c.want)
		}
	}
}

// heapGoal reads the runtime's current heap target and GOGC.
func heapGoal() (goal uint64, gogc uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// waitFor runs collections until cond holds (the tuner adjusts after a
// collection, from the cleanup goroutine), or fails after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			goal, gogc := heapGoal()
			t.Fatalf("%s: not reached (heap goal %d, GOGC %d)", what, goal, gogc)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTunerRaisesTheTargetAndFollowsTheLiveHeap runs the tuner in this
// process: the heap target rises to the floor while the live heap is
// small, GOGC returns to its base once the live heap needs more than the
// floor, and Stop restores it.
func TestTunerRaisesTheTargetAndFollowsTheLiveHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const floor = 128 << 20
	tu := Start(floor)
	waitFor(t, "heap goal at the floor", func() bool {
		goal, gogc := heapGoal()
		return goal >= floor*9/10 && goal <= floor*11/10 && gogc > 100
	})

	live := make([]byte, 100<<20) // live heap above floor/2
	for i := range live {
		live[i] = 1
	}
	waitFor(t, "GOGC back to 100 with a large live heap", func() bool {
		_, gogc := heapGoal()
		return gogc == 100
	})
	runtime.KeepAlive(live)
	live = nil

	waitFor(t, "heap goal at the floor again", func() bool {
		goal, _ := heapGoal()
		return goal >= floor*9/10 && goal <= floor*11/10
	})
	tu.Stop()
	if _, gogc := heapGoal(); gogc != 100 {
		t.Fatalf("after Stop GOGC is %d, want 100", gogc)
	}
}

// TestTunerLeavesGOGCOff: with the collector off, the tuner does nothing.
func TestTunerLeavesGOGCOff(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	tu := Start(256 << 20)
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("GOGC is %d, want off", p)
	}
	tu.Stop()
}
