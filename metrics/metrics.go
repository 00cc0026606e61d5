// Package metrics is Strongroom's Prometheus instrumentation: the metrics
// the front door, the seal, the HSM, the storage and the caches report, on
// one registry that sys/metrics?format=prometheus exposes. Metric names
// start with strongroom_.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

// Metrics holds a node's registry and the instruments updated on the
// request path. A nil *Metrics records nothing, so callers need no checks.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	auditErr prometheus.Counter

	// series caches the instruments of each (family, code), so a request
	// does not hash its labels or format its status code. Families and
	// codes are bounded (route table, mounts, HTTP statuses).
	series sync.Map // seriesKey → *requestSeries
}

type seriesKey struct {
	family string
	code   int
}

type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// New returns a registry with the Go runtime and process collectors and
// the request instruments.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strongroom_http_requests_total",
			Help: "HTTP API requests, by route family (the mount or sys/ route) and status code.",
		}, []string{"family", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strongroom_http_request_duration_seconds",
			Help:    "HTTP API request latency, by route family.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60},
		}, []string{"family"}),
		auditErr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strongroom_audit_failures_total",
			Help: "Requests failed because no audit device could log them.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.auditErr,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Request records one answered request.
func (m *Metrics) Request(family string, code int, d time.Duration) {
	if m == nil {
		return
	}
	k := seriesKey{family, code}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &requestSeries{
			count:   m.requests.WithLabelValues(family, strconv.Itoa(code)),
			latency: m.latency.WithLabelValues(family),
		})
	}
	rs := v.(*requestSeries)
	rs.count.Inc()
	rs.latency.Observe(d.Seconds())
}

// AuditFailure records a request refused because it could not be audited.
func (m *Metrics) AuditFailure() {
	if m != nil {
		m.auditErr.Inc()
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Register adds a collector (the seal, HSM, storage and cache collectors
// below).
func (m *Metrics) Register(c prometheus.Collector) { m.reg.MustRegister(c) }

// SealCollector reports, at scrape time, the seal state of the tenants
// each yields: the root namespace ("root") and the namespaces loaded on
// this node (by name; a namespace not loaded is not reported), and how
// many namespaces are loaded.
func SealCollector(each func(yield func(tenant string, sealed bool)), loaded func() int) prometheus.Collector {
	sealedDesc := prometheus.NewDesc("strongroom_seal_sealed", "1 while the tenant is sealed on this node, 0 while unsealed.", []string{"tenant"}, nil)
	loadedDesc := prometheus.NewDesc("strongroom_tenants_loaded", "Namespaces loaded in memory on this node.", nil, nil)
	return &funcCollector{descs: []*prometheus.Desc{sealedDesc, loadedDesc}, collect: func(ch chan<- prometheus.Metric) {
		each(func(tenant string, sealed bool) {
			v := 0.0
			if sealed {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(sealedDesc, prometheus.GaugeValue, v, tenant)
		})
		ch <- prometheus.MustNewConstMetric(loadedDesc, prometheus.GaugeValue, float64(loaded()))
	}}
}

// funcCollector reports values read at scrape time.
type funcCollector struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (f *funcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range f.descs {
		ch <- d
	}
}
func (f *funcCollector) Collect(ch chan<- prometheus.Metric) { f.collect(ch) }

// HSMCollector reports the PKCS#11 call counts, errors and time of an HSM
// (hsm.Stats). get returns nil while the HSM is not open.
func HSMCollector(get func() *hsm.HSM) prometheus.Collector {
	calls := prometheus.NewDesc("strongroom_pkcs11_calls_total", "PKCS#11 calls, by function.", []string{"function"}, nil)
	errs := prometheus.NewDesc("strongroom_pkcs11_errors_total", "PKCS#11 calls that failed, by function.", []string{"function"}, nil)
	secs := prometheus.NewDesc("strongroom_pkcs11_call_seconds_total", "Time spent in PKCS#11 calls.", nil, nil)
	return &funcCollector{descs: []*prometheus.Desc{calls, errs, secs}, collect: func(ch chan<- prometheus.Metric) {
		h := get()
		if h == nil {
			return
		}
		st := h.Stats()
		for fn, n := range st.Calls {
			ch <- prometheus.MustNewConstMetric(calls, prometheus.CounterValue, float64(n), fn)
		}
		for fn, n := range st.Errors {
			ch <- prometheus.MustNewConstMetric(errs, prometheus.CounterValue, float64(n), fn)
		}
		ch <- prometheus.MustNewConstMetric(secs, prometheus.CounterValue, st.CallTime.Seconds())
	}}
}

// BoltCollector reports the write transactions of a bolt store.
func BoltCollector(db interface{ Stats() bolt.Stats }) prometheus.Collector {
	updates := prometheus.NewDesc("strongroom_storage_updates_total", "Update transactions requested.", nil, nil)
	commits := prometheus.NewDesc("strongroom_storage_commits_total", "Commits written (one fsync each; group commit shares them).", nil, nil)
	replays := prometheus.NewDesc("strongroom_storage_replays_total", "Shared transactions rolled back and replayed after a failing call.", nil, nil)
	scrubbed := prometheus.NewDesc("strongroom_storage_scrubbed_pages_total", "Free pages overwritten by scrubs.", nil, nil)
	misses := prometheus.NewDesc("strongroom_storage_read_cache_misses_total", "Point reads the read cache could not serve.", nil, nil)
	entries := prometheus.NewDesc("strongroom_storage_read_cache_entries", "Records held by the read cache.", nil, nil)
	cbytes := prometheus.NewDesc("strongroom_storage_read_cache_bytes", "Bytes held by the read cache (with an estimate of its overhead).", nil, nil)
	return &funcCollector{descs: []*prometheus.Desc{updates, commits, replays, scrubbed, misses, entries, cbytes}, collect: func(ch chan<- prometheus.Metric) {
		st := db.Stats()
		ch <- prometheus.MustNewConstMetric(updates, prometheus.CounterValue, float64(st.Updates))
		ch <- prometheus.MustNewConstMetric(commits, prometheus.CounterValue, float64(st.Commits))
		ch <- prometheus.MustNewConstMetric(replays, prometheus.CounterValue, float64(st.Replays))
		ch <- prometheus.MustNewConstMetric(scrubbed, prometheus.CounterValue, float64(st.Scrubbed))
		ch <- prometheus.MustNewConstMetric(misses, prometheus.CounterValue, float64(st.Cache.Misses))
		ch <- prometheus.MustNewConstMetric(entries, prometheus.GaugeValue, float64(st.Cache.Entries))
		ch <- prometheus.MustNewConstMetric(cbytes, prometheus.GaugeValue, float64(st.Cache.Bytes))
	}}
}

// StoreCollector reports the transactions of a wrapped store, whatever its
// backend: latency histograms by kind (update includes its retries),
// conflicts, retries and Updates that gave up after storage.MaxAttempts.
func StoreCollector(rep storage.StatsReporter) prometheus.Collector {
	dur := prometheus.NewDesc("strongroom_storage_transaction_duration_seconds", "Storage transaction latency, by kind (update or view).", []string{"kind"}, nil)
	conflicts := prometheus.NewDesc("strongroom_storage_conflicts_total", "Transaction attempts that ended in a conflict.", nil, nil)
	retries := prometheus.NewDesc("strongroom_storage_retries_total", "Transaction attempts started again after a conflict.", nil, nil)
	gaveUp := prometheus.NewDesc("strongroom_storage_conflict_failures_total", "Updates that failed after exhausting their retries.", nil, nil)
	bounds := make([]float64, len(storage.LatencyBounds))
	for i, b := range storage.LatencyBounds {
		bounds[i] = b.Seconds()
	}
	hist := func(kind string, l storage.Latency) prometheus.Metric {
		buckets := make(map[float64]uint64, len(bounds))
		for i, b := range bounds {
			buckets[b] = l.Buckets[i]
		}
		return prometheus.MustNewConstHistogram(dur, l.Count, l.Sum.Seconds(), buckets, kind)
	}
	return &funcCollector{descs: []*prometheus.Desc{dur, conflicts, retries, gaveUp}, collect: func(ch chan<- prometheus.Metric) {
		st := rep.TxStats()
		ch <- hist("update", st.Update)
		ch <- hist("view", st.View)
		ch <- prometheus.MustNewConstMetric(conflicts, prometheus.CounterValue, float64(st.Conflicts))
		ch <- prometheus.MustNewConstMetric(retries, prometheus.CounterValue, float64(st.Retries))
		ch <- prometheus.MustNewConstMetric(gaveUp, prometheus.CounterValue, float64(st.GaveUp))
	}}
}

// CacheCollector reports a cache's hits and misses.
func CacheCollector(name string, stats func() (hits, misses uint64)) prometheus.Collector {
	hits := prometheus.NewDesc("strongroom_cache_hits_total", "Cache hits.", nil, prometheus.Labels{"cache": name})
	misses := prometheus.NewDesc("strongroom_cache_misses_total", "Cache misses.", nil, prometheus.Labels{"cache": name})
	return &funcCollector{descs: []*prometheus.Desc{hits, misses}, collect: func(ch chan<- prometheus.Metric) {
		h, m := stats()
		ch <- prometheus.MustNewConstMetric(hits, prometheus.CounterValue, float64(h))
		ch <- prometheus.MustNewConstMetric(misses, prometheus.CounterValue, float64(m))
	}}
}
