package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// runner drives one load test: c workers, each with one keep-alive
// connection, send requests back to back (closed loop) for the warmup and
// then for the measured duration or until -n measured requests.
type runner struct {
	cfg    *config
	client *http.Client
	base   *url.URL
	stderr io.Writer
	// inProcess marks the baseline's runner: -server-pid is not its server.
	inProcess bool

	setupRequests atomic.Int64
}

// runStats is the merged outcome of the measured phase.
type runStats struct {
	started     time.Time
	elapsed     time.Duration // from the end of the warmup to the last response (summed over merged runs)
	hist        *histogram    // latencies of the 2xx responses
	ok          int64
	errors      map[int]int64  // by status; 0 is a transport error (no response)
	samples     map[int]string // first failure text of each status (warmup included)
	warmup      int64          // requests of the warmup (any status)
	setup       int64
	interrupted bool
	// serverCPU is the CPU time the server process used from the end of
	// the warmup to the last response (-server-pid), when serverCPUOK.
	serverCPU   time.Duration
	serverCPUOK bool
}

// add merges o, a later run of the same requests, into s: the baseline's
// two halves.
func (s *runStats) add(o *runStats) {
	s.elapsed += o.elapsed
	s.hist.merge(o.hist)
	s.ok += o.ok
	s.warmup += o.warmup
	s.setup += o.setup
	for status, n := range o.errors {
		s.errors[status] += n
	}
	for status, text := range o.samples {
		if _, ok := s.samples[status]; !ok {
			s.samples[status] = text
		}
	}
	s.interrupted = s.interrupted || o.interrupted
}

func (s *runStats) errorCount() int64 {
	var n int64
	for _, c := range s.errors {
		n += c
	}
	return n
}

// abortAfter is how many failures without a single success stop the run:
// when the token, address or mount is wrong everything fails, and the
// numbers would be those of an error path.
func (r *runner) abortAfter() int64 { return int64(max(2*r.cfg.conns, 20)) }

// allFailedError stops a run in which no request succeeded.
type allFailedError struct {
	n      int64
	status int
	sample string
	hint   string
}

func (e *allFailedError) Error() string {
	return fmt.Sprintf("all of the first %d requests failed: %s%s", e.n, e.sample, e.hint)
}

// hint is hint(status) for the run's workload, whose own text for a 404 or
// 405 answer comes first.
func (r *runner) hint(status int) string {
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		if h := workloads[r.cfg.workload].notFoundHint; h != "" {
			return h
		}
	}
	return hint(status)
}

// hint suggests a cause for a status that makes every request fail.
func hint(status int) string {
	switch {
	case status == 0:
		return " (check -addr, -ca-cert/-insecure)"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return " (check -token and -namespace)"
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return " (check -mount, and that its KV version matches the workload)"
	case status/100 == 3:
		return " (a standby node redirects: point -addr at the active node)"
	case status == http.StatusServiceUnavailable:
		return " (is the server sealed?)"
	}
	return ""
}

// shared is the state the workers of one run share.
type shared struct {
	issued   atomic.Int64 // measured requests started, for -n
	stop     atomic.Bool  // the run's context is done
	sawOK    atomic.Bool
	failures atomic.Int64 // failures before the first success

	mu      sync.Mutex
	samples map[int]string
}

func (s *shared) sample(status int, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.samples[status]; !ok {
		s.samples[status] = text
	}
}

// workerStats is what one worker counts; merged after the run.
type workerStats struct {
	hist   *histogram
	ok     int64
	errors map[int]int64
	warmup int64
	seen   map[int]bool // statuses whose sample this worker has offered
}

// setup runs w's setup against the server. It is not run against the
// baseline server, which answers every request anyway.
func (r *runner) setup(ctx context.Context, w workload) error {
	if err := w.setup(ctx, r); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

// measure runs w's warmup and measurement, after its setup. A cancelled ctx
// (Ctrl-C) ends the run early with the statistics so far and interrupted
// set.
func (r *runner) measure(ctx context.Context, w workload) (*runStats, error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sh := &shared{samples: map[int]string{}}
	go func() {
		<-runCtx.Done()
		sh.stop.Store(true)
	}()

	started := time.Now()
	measureStart := started.Add(r.cfg.warmup)
	var end time.Time
	if r.cfg.duration > 0 {
		end = measureStart.Add(r.cfg.duration)
	}
	// The server's CPU time at the end of the warmup and at the end of the
	// run (-server-pid; the measuring srload is this run's only client).
	cpuStart := make(chan time.Duration, 1)
	if pid := r.cfg.serverPID; pid > 0 && !r.inProcess {
		t := time.AfterFunc(time.Until(measureStart), func() {
			if d, err := processCPU(pid); err == nil {
				cpuStart <- d
			}
			close(cpuStart)
		})
		defer t.Stop()
	} else {
		close(cpuStart)
	}
	stats := make([]*workerStats, r.cfg.conns)
	var wg sync.WaitGroup
	for id := range r.cfg.conns {
		t := newTarget(runCtx, r.base, r.cfg)
		next := w.worker(id, t)
		wg.Go(func() {
			stats[id] = r.work(runCtx, cancel, sh, next, started, measureStart, end)
		})
	}
	wg.Wait()
	finished := time.Now()

	if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
		return nil, cause // aborted by the workers
	}
	out := &runStats{
		started:     started,
		elapsed:     max(finished.Sub(measureStart), 0),
		hist:        newHistogram(),
		errors:      map[int]int64{},
		samples:     sh.samples,
		setup:       r.setupRequests.Load(),
		interrupted: ctx.Err() != nil,
	}
	if r.cfg.serverPID > 0 && !r.inProcess {
		end, err := processCPU(r.cfg.serverPID)
		if err != nil {
			return nil, err
		}
		select {
		case start, ok := <-cpuStart:
			if ok {
				out.serverCPU, out.serverCPUOK = end-start, true
			}
		default: // the run ended before the warmup did
		}
	}
	for _, st := range stats {
		out.hist.merge(st.hist)
		out.ok += st.ok
		out.warmup += st.warmup
		for code, n := range st.errors {
			out.errors[code] += n
		}
	}
	return out, nil
}

// work is the loop of one worker. Each request is sent after the previous
// response has been read to the end; its latency runs from just before
// client.Do to the close of the drained body. A request belongs to the
// warmup or to the measurement by the time it is started.
func (r *runner) work(ctx context.Context, cancel context.CancelCauseFunc, sh *shared,
	next func() *http.Request, started, measureStart, end time.Time) *workerStats {
	st := &workerStats{hist: newHistogram(), errors: map[int]int64{}, seen: map[int]bool{}}
	limit := r.cfg.maxRequests
	now := started
	for !sh.stop.Load() {
		if !end.IsZero() && !now.Before(end) {
			break
		}
		measured := !now.Before(measureStart)
		if measured && limit > 0 && sh.issued.Add(1) > limit {
			break
		}
		req := next()
		t0 := time.Now()
		status, err := r.send(req, st, sh)
		now = time.Now()
		if err != nil && ctx.Err() != nil {
			break // cancelled in flight: neither a success nor an error
		}
		ok := err == nil && status/100 == 2
		if ok {
			if !sh.sawOK.Load() {
				sh.sawOK.Store(true)
			}
		} else if !sh.sawOK.Load() {
			if n := sh.failures.Add(1); n >= r.abortAfter() {
				cancel(&allFailedError{n: n, status: status, sample: describeSample(sh, status), hint: r.hint(status)})
				break
			}
		}
		switch {
		case !measured:
			st.warmup++
		case ok:
			st.ok++
			st.hist.record(now.Sub(t0))
		default:
			st.errors[status]++
		}
	}
	return st
}

func describeSample(sh *shared, status int) string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.samples[status]
}

// send does one request; status 0 with err is a transport error. The first
// failure of each status a worker sees is offered as that status's sample.
func (r *runner) send(req *http.Request, st *workerStats, sh *shared) (int, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		if !st.seen[0] && req.Context().Err() == nil {
			st.seen[0] = true
			sh.sample(0, describeFailure(0, "", err))
		}
		return 0, err
	}
	if resp.StatusCode/100 != 2 && !st.seen[resp.StatusCode] {
		st.seen[resp.StatusCode] = true
		sh.sample(resp.StatusCode, describeFailure(resp.StatusCode, readSample(resp.Body), nil))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// each sends the n requests build(t, i), 0 <= i < n, from -c concurrent
// workers, for a workload's setup. It is not timed and stops at the first
// failure.
func (r *runner) each(ctx context.Context, n int, build func(t *target, i int) *http.Request) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.cfg.conns, n) {
		t := newTarget(ctx, r.base, r.cfg)
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				req := build(t, int(i))
				status, errBody, err := call(r.client, req)
				r.setupRequests.Add(1)
				if err != nil || status/100 != 2 {
					if ctx.Err() == nil {
						cancel(fmt.Errorf("%s %s: %s%s", req.Method, req.URL.Path,
							describeFailure(status, errBody, err), r.hint(status)))
					}
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// maxSetupAnswer is how much of a setup request's answer callJSON reads.
const maxSetupAnswer = 64 << 20

// callJSON sends one request of a workload's setup, counted in
// setup_requests, and decodes the JSON body of a 2xx answer into out (left
// as it is when the answer has no body, like a 204). No answer, or a status
// other than 2xx, is an error that names the request, with the start of the
// answer and a hint.
func (r *runner) callJSON(req *http.Request, out any) (status int, err error) {
	resp, err := r.client.Do(req)
	r.setupRequests.Add(1)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %s%s", req.Method, req.URL.Path, describeFailure(0, "", err), r.hint(0))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s%s", req.Method, req.URL.Path,
			describeFailure(resp.StatusCode, readSample(resp.Body), nil), r.hint(resp.StatusCode))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxSetupAnswer))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %d answer is not the expected JSON (%v): %s",
				req.Method, req.URL.Path, resp.StatusCode, err, readSample(bytes.NewReader(raw)))
		}
	}
	return resp.StatusCode, nil
}

// logf prints a progress line on stderr.
func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.stderr, "srload: "+format+"\n", args...)
}

// healthInfo is the part of a sys/health answer srload looks at.
type healthInfo struct {
	Initialized bool   `json:"initialized"`
	Sealed      bool   `json:"sealed"`
	Standby     bool   `json:"standby"`
	Version     string `json:"version"`
}

// preflight asks sys/health once: it fails fast when the server cannot be
// reached and tells a sealed server from a wrong token. A server without a
// JSON sys/health is not an error.
func (r *runner) preflight(ctx context.Context) (*healthInfo, error) {
	req := newTarget(ctx, r.base, r.cfg).get(healthPath, healthQuery)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %s", r.cfg.addr, describeFailure(0, "", err))
	}
	defer resp.Body.Close()
	var h healthInfo
	if resp.StatusCode/100 != 2 || json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h) != nil {
		return nil, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return &h, nil
}
