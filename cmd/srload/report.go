package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is the outcome of a run with its configuration; it is also the
// -json output (one object on one line, so runs can be appended to a file).
type report struct {
	Workload      string `json:"workload"`
	Addr          string `json:"addr"`
	Conns         int    `json:"conns"`
	Duration      string `json:"duration"` // "0s": no time limit (-n only)
	Warmup        string `json:"warmup"`
	MaxRequests   int64  `json:"max_requests,omitempty"`
	Size          int    `json:"size,omitempty"`
	Keys          int    `json:"keys,omitempty"`
	Mount         string `json:"mount,omitempty"`
	KeyPrefix     string `json:"key_prefix,omitempty"`
	Random        bool   `json:"random,omitempty"`
	ReadPercent   *int   `json:"read_percent,omitempty"`
	TransitKey    string `json:"transit_key,omitempty"` // transit-*: -key, on the transit mount (mount)
	KeyType       string `json:"key_type,omitempty"`
	Batch         int    `json:"batch,omitempty"` // items per request
	Namespace     string `json:"namespace,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
	Started       string `json:"started"`
	Interrupted   bool   `json:"interrupted,omitempty"`

	SetupRequests  int64   `json:"setup_requests"`
	WarmupRequests int64   `json:"warmup_requests"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Requests       int64   `json:"requests"` // measured: ok + errors
	OK             int64   `json:"ok"`
	Errors         int64   `json:"errors"`
	// Keys are HTTP status codes, and "transport" for requests that got no
	// response (connection refused, timeout, ...).
	ErrorsByStatus map[string]int64  `json:"errors_by_status,omitempty"`
	ErrorSamples   map[string]string `json:"error_samples,omitempty"`    // first failure of each status, warmup included
	Throughput     float64           `json:"throughput_rps"`             // 2xx responses per second
	ItemsPerSecond *float64          `json:"items_per_second,omitempty"` // batch workloads: throughput_rps × batch
	LatencyMS      latencyMS         `json:"latency_ms"`                 // of the 2xx responses
	// With -server-pid: the CPU time the server process used during the
	// measured phase, in all and per measured request.
	ServerCPUSeconds      *float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerRequestUS *float64 `json:"server_cpu_us_per_request,omitempty"`

	// The in-process baseline server measured with the same requests in
	// the same run (its addr is "in-process", its setup_requests 0), and
	// the ratios of this run to it: throughput_rps / baseline's, and p99
	// latency / baseline's. A ratio is absent when it has no meaning (a
	// side without a success).
	Baseline        *report  `json:"baseline,omitempty"`
	RatioThroughput *float64 `json:"ratio_throughput,omitempty"`
	RatioP99        *float64 `json:"ratio_p99,omitempty"`
}

type latencyMS struct {
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
}

func statusLabel(status int) string {
	if status == 0 {
		return "transport"
	}
	return strconv.Itoa(status)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func newReport(cfg *config, info workloadInfo, st *runStats, health *healthInfo) *report {
	rep := &report{
		Workload:       cfg.workload,
		Addr:           cfg.addr,
		Conns:          cfg.conns,
		Duration:       cfg.duration.String(),
		Warmup:         cfg.warmup.String(),
		MaxRequests:    cfg.maxRequests,
		Namespace:      cfg.namespace,
		Started:        st.started.UTC().Format(time.RFC3339),
		Interrupted:    st.interrupted,
		SetupRequests:  st.setup,
		WarmupRequests: st.warmup,
		ElapsedSeconds: st.elapsed.Seconds(),
		OK:             st.ok,
		Errors:         st.errorCount(),
	}
	if info.usesKeys {
		rep.Size, rep.Keys, rep.Mount, rep.KeyPrefix, rep.Random = cfg.size, cfg.keys, cfg.mount, cfg.keyPrefix, cfg.random
	}
	if info.usesTransitKey {
		rep.Size, rep.Mount, rep.TransitKey, rep.KeyType = cfg.size, cfg.transitMount, cfg.transitKey, cfg.keyType
	}
	if info.batch {
		rep.Batch = cfg.batch
	}
	if strings.HasSuffix(cfg.workload, "mixed") {
		rep.ReadPercent = &cfg.readPct
	}
	if health != nil {
		rep.ServerVersion = health.Version
	}
	rep.Requests = rep.OK + rep.Errors
	if st.elapsed > 0 {
		rep.Throughput = float64(st.ok) / st.elapsed.Seconds()
	}
	if info.batch {
		v := rep.Throughput * float64(cfg.batch)
		rep.ItemsPerSecond = &v
	}
	for status, n := range st.errors {
		if rep.ErrorsByStatus == nil {
			rep.ErrorsByStatus = map[string]int64{}
		}
		rep.ErrorsByStatus[statusLabel(status)] = n
	}
	for status, s := range st.samples {
		if rep.ErrorSamples == nil {
			rep.ErrorSamples = map[string]string{}
		}
		rep.ErrorSamples[statusLabel(status)] = s
	}
	if st.serverCPUOK {
		sec := st.serverCPU.Seconds()
		rep.ServerCPUSeconds = &sec
		if rep.Requests > 0 {
			us := sec * 1e6 / float64(rep.Requests)
			rep.ServerCPUPerRequestUS = &us
		}
	}
	h := st.hist
	rep.LatencyMS = latencyMS{
		Mean: ms(h.mean()), Min: ms(h.minimum()),
		P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)),
		P99: ms(h.quantile(0.99)), P999: ms(h.quantile(0.999)),
		Max: ms(h.maximum()),
	}
	return rep
}

// setBaseline attaches the baseline's report b and computes the ratios.
func (rep *report) setBaseline(b *report) {
	rep.Baseline = b
	rep.RatioThroughput, rep.RatioP99 = nil, nil
	if b.Throughput > 0 {
		v := rep.Throughput / b.Throughput
		rep.RatioThroughput = &v
	}
	if rep.OK > 0 && b.OK > 0 && b.LatencyMS.P99 > 0 {
		v := rep.LatencyMS.P99 / b.LatencyMS.P99
		rep.RatioP99 = &v
	}
}

// fmtRatio prints a ratio with two significant digits: 0.031 0.83 1.6 12 123.
func fmtRatio(v float64) string {
	switch {
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 0.1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// fmtMS prints milliseconds with three significant digits (at least one
// decimal up to 100ms): 0.712ms 1.23ms 12.3ms 123ms.
func fmtMS(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "ms"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "ms"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 3, 64) + "ms"
}

// writeText prints the one-line summary, then a line per failure sample;
// with a baseline, the same for the baseline prefixed "baseline: ", then the
// ratios:
//
//	workload=kv2-read c=32 d=10s size=128 keys=1000: 41234 req/s (412340 requests in 10.00s), mean 0.780ms p50 0.712ms p90 1.20ms p99 2.90ms p99.9 6.10ms max 12.0ms, errors 0
//	baseline: workload=kv2-read c=32 d=10s size=128 keys=1000: 49680 req/s (496800 requests in 10.00s), mean 0.640ms p50 0.602ms p90 0.910ms p99 1.81ms p99.9 3.20ms max 9.10ms, errors 0
//	ratio: throughput 0.83 of baseline, p99 1.6x baseline
func (rep *report) writeText(w io.Writer) error {
	var b strings.Builder
	rep.textLines(&b)
	if rep.Baseline != nil {
		b.WriteString("baseline: ")
		rep.Baseline.textLines(&b)
		b.WriteString("ratio: throughput ")
		if rep.RatioThroughput != nil {
			fmt.Fprintf(&b, "%s of baseline", fmtRatio(*rep.RatioThroughput))
		} else {
			b.WriteString("n/a")
		}
		b.WriteString(", p99 ")
		if rep.RatioP99 != nil {
			fmt.Fprintf(&b, "%sx baseline", fmtRatio(*rep.RatioP99))
		} else {
			b.WriteString("n/a")
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// textLines writes the summary line and the failure samples of rep alone.
func (rep *report) textLines(b *strings.Builder) {
	fmt.Fprintf(b, "workload=%s c=%d", rep.Workload, rep.Conns)
	if rep.Duration != "0s" {
		fmt.Fprintf(b, " d=%s", rep.Duration)
	}
	if rep.MaxRequests > 0 {
		fmt.Fprintf(b, " n=%d", rep.MaxRequests)
	}
	if rep.Keys > 0 {
		fmt.Fprintf(b, " size=%d keys=%d", rep.Size, rep.Keys)
		if rep.Random {
			b.WriteString(" random")
		}
	}
	if rep.ReadPercent != nil {
		fmt.Fprintf(b, " reads=%d%%", *rep.ReadPercent)
	}
	if rep.TransitKey != "" {
		fmt.Fprintf(b, " size=%d key=%s key-type=%s", rep.Size, rep.TransitKey, rep.KeyType)
	}
	if rep.Batch > 0 {
		fmt.Fprintf(b, " batch=%d", rep.Batch)
	}
	fmt.Fprintf(b, ": %.0f req/s", rep.Throughput)
	if rep.ItemsPerSecond != nil {
		fmt.Fprintf(b, " %.0f items/s", *rep.ItemsPerSecond)
	}
	fmt.Fprintf(b, " (%d requests in %.2fs), ", rep.Requests, rep.ElapsedSeconds)
	if rep.OK > 0 {
		l := rep.LatencyMS
		fmt.Fprintf(b, "mean %s p50 %s p90 %s p99 %s p99.9 %s max %s, ",
			fmtMS(l.Mean), fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.P999), fmtMS(l.Max))
	} else {
		b.WriteString("no successful request, ")
	}
	fmt.Fprintf(b, "errors %d", rep.Errors)
	if len(rep.ErrorsByStatus) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(rep.ErrorsByStatus)) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, rep.ErrorsByStatus[k]))
		}
		fmt.Fprintf(b, " (%s)", strings.Join(parts, ", "))
	}
	if rep.ServerCPUPerRequestUS != nil {
		fmt.Fprintf(b, ", server CPU %.1fus/request", *rep.ServerCPUPerRequestUS)
	}
	if rep.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteByte('\n')
	for _, k := range slices.Sorted(maps.Keys(rep.ErrorSamples)) {
		fmt.Fprintf(b, "  %s: %s\n", k, rep.ErrorSamples[k])
	}
}

func (rep *report) writeJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(rep)
}
