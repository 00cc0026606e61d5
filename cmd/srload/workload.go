package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
)

// A workload is one kind of benchmark request. The core (runner.go) owns the
// workers, the clock and the statistics; a workload only says what to send.
// Each workload lives in its own workload_*.go file and registers itself
// from an init function.
type workload interface {
	// setup prepares the server before the run, for example by writing the
	// keys a read workload reads. It is not timed and not counted in the
	// statistics; r.each sends many requests concurrently.
	setup(ctx context.Context, r *runner) error
	// worker returns the request generator of worker id (0 <= id < -c).
	// The generator is called by that worker only, once per request, and
	// builds requests with t.
	worker(id int, t *target) func() *http.Request
}

// workloadInfo describes a registered workload.
type workloadInfo struct {
	name    string
	summary string
	// usesKeys says that -size, -keys, -mount, -prefix and -random matter
	// (they are then shown in the report).
	usesKeys bool
	// usesTransitKey says that -size, -transit-mount, -key and -key-type
	// matter (they are then shown in the report).
	usesTransitKey bool
	// batch: each request carries -batch items; the report adds items/s.
	batch bool
	// notFoundHint, when set, replaces the hint for a 404 or 405 answer
	// (which otherwise points at -mount and the KV version).
	notFoundHint string
	// needsUnsealed: refuse to start against a sealed server.
	needsUnsealed bool
	// inProcess: the workload runs against the in-process baseline server
	// only; -addr is not contacted.
	inProcess bool
	build     func(cfg *config) (workload, error)
}

var workloads = map[string]workloadInfo{}

func register(w workloadInfo) {
	if _, dup := workloads[w.name]; dup {
		panic("srload: workload registered twice: " + w.name)
	}
	workloads[w.name] = w
}

// workloadHelp lists the registered workloads for -help.
func workloadHelp() string {
	var b strings.Builder
	width := 0
	for name := range workloads {
		width = max(width, len(name))
	}
	for _, name := range sortedWorkloads() {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, name, workloads[name].summary)
	}
	return b.String()
}

// keyPicker chooses the key of each request of one worker: round robin over
// 0..n-1 from a per-worker start offset (so that workers spread over the key
// space), or uniformly random with a fixed per-worker seed (-random; runs are
// repeatable).
type keyPicker struct {
	n, next int
	rnd     *rand.Rand
}

func newKeyPicker(cfg *config, id int) *keyPicker {
	p := &keyPicker{n: cfg.keys, next: int(int64(id) * int64(cfg.keys) / int64(max(cfg.conns, 1)))}
	if cfg.random {
		p.rnd = workerRand(streamKeys, id)
	}
	return p
}

func (p *keyPicker) pick() int {
	if p.rnd != nil {
		return p.rnd.IntN(p.n)
	}
	k := p.next
	if p.next++; p.next == p.n {
		p.next = 0
	}
	return k
}

// Random streams: a workload that needs random choices besides the key
// takes its own stream so that the choices are independent.
const (
	streamKeys uint64 = iota + 1
	streamOps
)

// workerRand is the deterministic random source of worker id for a stream.
func workerRand(stream uint64, id int) *rand.Rand {
	return rand.New(rand.NewPCG(0x5372_6c6f_6164<<8|stream, uint64(id)))
}

func sortedWorkloads() []string { return slices.Sorted(maps.Keys(workloads)) }
