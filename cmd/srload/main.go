// Command srload is a load generator for servers that speak HashiCorp Vault's
// HTTP API: Strongroom, or Vault and OpenBao for comparison. Its numbers go
// into docs/benchmarks.md.
//
//	go run ./cmd/srload -workload baseline
//	go run ./cmd/srload -workload kv2-write -c 32 -d 10s
//	go run ./cmd/srload -workload kv2-read -c 32 -d 10s -size 1024 -keys 10000
//	go run ./cmd/srload -workload kv1-read -mount kv -n 100000 -json >> results.jsonl
//	go run ./cmd/srload -workload transit-encrypt -c 32 -d 10s
//	go run ./cmd/srload -workload transit-decrypt -c 32 -d 10s -size 1024
//	go run ./cmd/srload -workload transit-batch-encrypt -c 8 -d 10s -batch 100
//	go run ./cmd/srload -help    (every flag and workload)
//
// The server is -addr (default $VAULT_ADDR, else http://127.0.0.1:8200) with
// -token (default $VAULT_TOKEN); -namespace, -ca-cert and -insecure default
// to $VAULT_NAMESPACE, $VAULT_CACERT and $VAULT_SKIP_VERIFY like the vault
// CLI. The mounts must exist: for example
// `vault secrets enable -path=secret -version=2 kv` for the KV workloads,
// `vault secrets enable transit` for the transit ones.
//
// # Workloads
//
//	health     GET /v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200, the
//	           cheapest request: the ceiling of srload + HTTP + the server's framework
//	baseline   health's requests to the in-process baseline server only (see below);
//	           -addr is not contacted
//	kv2-write  PUT /v1/<mount>/data/<key> {"data":{"value":"<base64 of -size random bytes>"}}
//	kv2-read   GET /v1/<mount>/data/<key>, after a setup that writes every key once
//	           (the kv2-* setup also checks with one write that -mount is KV v2)
//	kv2-mixed  -reads percent (90) reads, the rest writes; "mixed" is the same
//	kv1-write, kv1-read, kv1-mixed: the same on a KV v1 mount (/v1/<mount>/<key>, {"value":...})
//	transit-encrypt
//	           POST /v1/<transit-mount>/encrypt/<key> {"plaintext":"<base64 of -size random bytes>"}
//	transit-decrypt
//	           POST /v1/<transit-mount>/decrypt/<key> {"ciphertext":"vault:v1:..."}, round robin over
//	           64 ciphertexts of -size-byte plaintexts that the setup encrypts
//	transit-batch-encrypt
//	           POST /v1/<transit-mount>/encrypt/<key> {"batch_input":[{"plaintext":...}, ...]} with
//	           -batch (100) items; the report adds items/s, req/s × -batch
//
// KV keys are <prefix><i> (-prefix, default "srload-") for i in 0..-keys-1.
// Each worker goes round robin over the key space from its own offset, or
// picks keys at random with -random (fixed seeds: runs are repeatable).
//
// The transit workloads use the key -key (default "srload") on the mount
// -transit-mount (default "transit"; -mount is KV's). Their setup creates
// the key with POST /v1/<transit-mount>/keys/<key> {"type":"<-key-type>"}
// (default aes256-gcm96), or keeps it when it exists, but stops when it
// exists with another type. It then checks with one request of the
// workload (transit-decrypt: the encryptions of its pool and one decrypt)
// that the answers carry transit ciphertexts "vault:v1:...", so that a
// -transit-mount of another engine, which may answer 2xx, is caught before
// the run. See workload_transit.go.
//
// The default workload is health. New workloads are one workload_<name>.go
// file each, registered from init; see workload.go.
//
// # Baseline
//
// The baseline server is a minimal net/http server inside srload, on
// 127.0.0.1 with a free port, that answers every request the same way: it
// reads and discards the body, seals a fixed 32-byte plaintext with
// AES-256-GCM under a fixed key and a fresh random nonce, and answers 200
// with a fixed Vault-shaped JSON body, a transit encrypt answer:
//
//	{"request_id":"00000000-0000-0000-0000-000000000000","lease_id":"","renewable":false,"lease_duration":0,
//	 "data":{"ciphertext":"vault:v1:<base64 of nonce ‖ ciphertext ‖ tag>","key_version":1},
//	 "wrap_info":null,"warnings":null,"auth":null}
//
// It is the least a Vault-API server that does any work can do: its numbers
// are the ceiling of srload + HTTP + one seal on this machine. It speaks
// the scheme of -addr (for https, TLS with a certificate made for the run)
// and is measured with a client of the same settings as the target's.
//
// Unless -baseline=false, every run also measures the baseline server in
// the same invocation, with exactly the workload's requests (method, path,
// query, headers, body, key order) and the same -c, -warmup, -d and -n, and
// reports both and the ratios. The workload's setup is done on the target
// only: the baseline server answers everything with 200 (transit-decrypt
// sends it the ciphertexts its setup made on the target). The order is
// preflight and setup on the target, the baseline's first half (-warmup,
// then half of -d and of -n), the run on the target (-warmup, -d, -n), the
// baseline's second half (-warmup, the other half), the halves merged into
// one baseline: a drift of the machine's speed that is linear in time
// (heat, another process ramping up) weighs on both sides alike. A run
// therefore takes about twice -d and three -warmup. A failure of the
// target that only its timed requests reveal (a wrong token with kv1-write,
// which has no setup) shows after the baseline's first half.
//
// The baseline server shares the machine's cores with the load generator,
// exactly like a server that runs on the same machine: the ratios
// (throughput of the target / the baseline's, p99 of the target / the
// baseline's) are meaningful for a local target, and hold when the machine
// is noisy, since both sides see the same noise. For a remote target they
// also count the network and the other machine. Unlike a separate server,
// the baseline server also shares srload's Go runtime: its garbage is
// collected by srload's collector, whose pauses stall both sides, which can
// lift the baseline's tail (a p99 ratio below 1 on a fast endpoint).
//
// -baseline-addr URL measures, in the same halves, a baseline served
// elsewhere (by srload -serve-baseline) instead of the in-process one, with
// a client of the target's settings; its report's addr is that URL. Run on
// the target's machine, it makes the ratios of a remote target count the
// network on both sides; run as a process of its own beside a local
// target, it is the ceiling of a server that is a separate process (pin it
// and the target to the same cores, and srload to others, to compare the
// two servers alone).
//
// -workload baseline runs only the baseline server (the whole -d and -n),
// with health's requests.
//
// -serve-baseline host:port sends no load: it serves the baseline handler
// over plain HTTP until interrupted, so that another srload can measure it
// as a separate process (what a server pays for being one process and the
// load tool another, on the same cores). -serve-work D makes that handler
// busy for D more per request (a loop on the clock, before the seal): a
// calibration of what a given per-request cost does to the ratios, and to
// the tail, on the machine at hand.
//
// # Measurement
//
// -c workers each own one HTTP/1.1 keep-alive connection and send requests
// back to back (a closed loop: the offered load is what the server can
// take). The first -warmup of the run is not counted; then the run lasts -d,
// or until -n measured requests when -n is given without -d (with both,
// whichever comes first). A request counts in the phase in which it starts.
// Latency is from client.Do to the close of the fully read response body,
// recorded in a log-linear histogram (relative precision 0.8%; percentiles
// are rounded up to their bucket's upper bound, min and max are exact).
//
// Every response is checked: 2xx is a success, anything else or no response
// is an error, counted by status ("transport" for no response). Throughput
// and latencies are those of the successes. If the first max(2*c, 20)
// requests all fail (wrong token, address or mount, sealed server) the run
// stops with the failure and a hint.
//
// With -server-pid P (Linux, the server on this machine), srload also reads
// process P's CPU time (user and system, all threads, /proc/P/stat) at the
// end of the warmup and after the last response, and reports it in all and
// per measured request (JSON: server_cpu_seconds, server_cpu_us_per_request;
// text: "server CPU 17.3us/request"). On a shared machine it moves less
// than throughput does, so it shows what a server change costs or saves.
//
// # Output
//
// One line of text for the target, one for the baseline prefixed
// "baseline: ", and the ratios,
//
//	workload=kv2-read c=32 d=10s size=128 keys=1000: 41234 req/s (412340 requests in 10.00s), mean 0.780ms p50 0.712ms p90 1.20ms p99 2.90ms p99.9 6.10ms max 12.0ms, errors 0
//	baseline: workload=kv2-read c=32 d=10s size=128 keys=1000: 49680 req/s (496800 requests in 10.00s), mean 0.640ms p50 0.602ms p90 0.910ms p99 1.81ms p99.9 3.20ms max 9.10ms, errors 0
//	ratio: throughput 0.83 of baseline, p99 1.6x baseline
//
// each of the first two followed by a line per failing status with the
// first failure's text (a ratio is "n/a" when a side has no success); or
// with -json one JSON object on one line (configuration, counts,
// errors_by_status, error_samples, throughput_rps, latency_ms, and a
// baseline object with the same fields, its addr "in-process" (or the
// -baseline-addr), then
// ratio_throughput and ratio_p99). The transit workloads show size, key and
// key-type (JSON: size, mount, transit_key, key_type) where KV shows size
// and keys; transit-batch-encrypt also the batch and the items per second
// (JSON: batch, items_per_second, that is throughput_rps × batch):
//
//	workload=transit-batch-encrypt c=8 d=10s size=128 key=srload key-type=aes256-gcm96 batch=100: 412 req/s 41200 items/s (4120 requests in 10.00s), mean 19.4ms ...
//
// The throughput ratio is the same for requests and items. With -baseline=false or -workload
// baseline there is one report alone.
//
// Exit status: 0 for a run without errors (on either side), 1 for a run
// with errors or that could not run, 2 for bad flags, 130 when interrupted
// (the report of the requests so far is printed, unless the target's run
// had not started).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	addr, token, namespace string
	caCert                 string
	insecure               bool
	conns                  int
	duration, warmup       time.Duration
	maxRequests            int64
	timeout                time.Duration
	workload               string
	size, keys             int
	mount, keyPrefix       string
	random                 bool
	transitMount           string
	transitKey, keyType    string
	batch                  int
	readPct                int
	json                   bool
	baseline               bool
	serveBaseline          string
	serveWork              time.Duration
	baselineAddr           string
	serverPID              int
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

const usageHead = `Usage: srload [flags]

srload sends requests to a Vault-API server from -c concurrent keep-alive
connections and reports throughput and latency percentiles.

Flags:
`

// parseFlags parses args into a config. A nil config with a nil error means
// that -help was asked for.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("srload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nWorkloads:\n%s", workloadHelp())
	}
	skipVerify, _ := strconv.ParseBool(os.Getenv("VAULT_SKIP_VERIFY"))
	fs.StringVar(&cfg.addr, "addr", envOr("VAULT_ADDR", "http://127.0.0.1:8200"), "server address ($VAULT_ADDR)")
	// The token's default is applied after parsing, so that -help does not print it.
	fs.StringVar(&cfg.token, "token", "", "token sent as X-Vault-Token (default $VAULT_TOKEN)")
	fs.StringVar(&cfg.namespace, "namespace", os.Getenv("VAULT_NAMESPACE"), "namespace sent as X-Vault-Namespace ($VAULT_NAMESPACE)")
	fs.StringVar(&cfg.caCert, "ca-cert", os.Getenv("VAULT_CACERT"), "PEM file of the CA that signed the server's certificate ($VAULT_CACERT)")
	fs.BoolVar(&cfg.insecure, "insecure", skipVerify, "do not verify the server's TLS certificate ($VAULT_SKIP_VERIFY)")
	fs.IntVar(&cfg.conns, "c", 32, "concurrent workers, one keep-alive connection each")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "measured duration, after the warmup (0: until -n; with -n and no -d there is no time limit)")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "time before the measurement whose requests are not counted")
	fs.Int64Var(&cfg.maxRequests, "n", 0, "stop after this many measured requests (0: no cap)")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "time to wait for the response headers of one request")
	fs.StringVar(&cfg.workload, "workload", "health", "workload (see below)")
	fs.IntVar(&cfg.size, "size", 128, "KV value size, transit plaintext size: random bytes, sent base64-encoded")
	fs.IntVar(&cfg.keys, "keys", 1000, "KV key-space size")
	fs.StringVar(&cfg.mount, "mount", "secret", "KV mount path (v2 for kv2-*, v1 for kv1-*)")
	fs.StringVar(&cfg.keyPrefix, "prefix", "srload-", "KV key name prefix; keys are <prefix>0 .. <prefix><keys-1>")
	fs.BoolVar(&cfg.random, "random", false, "pick keys at random instead of round robin")
	fs.IntVar(&cfg.readPct, "reads", 90, "mixed workloads: percentage of reads")
	fs.StringVar(&cfg.transitMount, "transit-mount", "transit", "transit mount path (transit-* workloads)")
	fs.StringVar(&cfg.transitKey, "key", "srload", "transit key name; the setup creates it unless it exists")
	fs.StringVar(&cfg.keyType, "key-type", "aes256-gcm96", "type of the transit key the setup creates (an existing key must have it)")
	fs.IntVar(&cfg.batch, "batch", 100, "transit-batch-encrypt: items per request")
	fs.BoolVar(&cfg.json, "json", false, "print the report as one JSON object")
	fs.BoolVar(&cfg.baseline, "baseline", true, "also measure the in-process baseline server with the same requests, and report the ratios")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "process id of the server (on this Linux machine): also report the CPU time it used per measured request")
	fs.StringVar(&cfg.baselineAddr, "baseline-addr", "", "measure the baseline served at this address (by srload -serve-baseline: on the target's machine, or on cores of its own) instead of in process")
	fs.StringVar(&cfg.serveBaseline, "serve-baseline", "", "only serve the baseline handler over HTTP on this address (host:port) until interrupted, to measure it in a process of its own")
	fs.DurationVar(&cfg.serveWork, "serve-work", 0, "with -serve-baseline: busy work the handler does per request before its seal (e.g. 3us), to calibrate the ratios")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	setFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })
	if !setFlags["token"] {
		cfg.token = os.Getenv("VAULT_TOKEN")
	}
	if cfg.maxRequests > 0 && !setFlags["d"] {
		cfg.duration = 0
	}
	return cfg, cfg.validate()
}

func (cfg *config) validate() error {
	var problems []string
	check := func(bad bool, msg string) {
		if bad {
			problems = append(problems, msg)
		}
	}
	check(cfg.conns < 1, "-c must be at least 1")
	check(cfg.duration < 0 || cfg.warmup < 0, "-d and -warmup must not be negative")
	check(cfg.maxRequests < 0, "-n must not be negative")
	check(cfg.duration == 0 && cfg.maxRequests == 0, "give -d or -n")
	check(cfg.timeout <= 0, "-timeout must be positive")
	check(cfg.size < 0, "-size must not be negative")
	check(cfg.keys < 1, "-keys must be at least 1")
	check(cfg.readPct < 0 || cfg.readPct > 100, "-reads must be between 0 and 100")
	check(cfg.batch < 1, "-batch must be at least 1")
	check(cfg.serverPID < 0, "-server-pid must not be negative")
	check(cfg.baselineAddr != "" && !cfg.baseline, "-baseline-addr with -baseline=false")
	check(cfg.serveWork < 0, "-serve-work must not be negative")
	check(cfg.serveWork > 0 && cfg.serveBaseline == "", "-serve-work applies only to -serve-baseline")
	check(cfg.baselineAddr != "" && cfg.workload == "baseline", "-baseline-addr does not apply to -workload baseline")
	if cfg.baselineAddr != "" {
		if _, err := parseURLFlag("-baseline-addr", cfg.baselineAddr); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if _, ok := workloads[cfg.workload]; !ok {
		problems = append(problems, fmt.Sprintf("unknown -workload %q; known: %s", cfg.workload, strings.Join(sortedWorkloads(), ", ")))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "srload: %v (-help lists the flags)\n", err)
		return 2
	}
	if cfg == nil {
		return 0 // -help
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "srload: %v\n", err)
		return 1
	}
	if cfg.serveBaseline != "" {
		if err := serveBaseline(ctx, cfg.serveBaseline, cfg.serveWork, stderr); err != nil {
			return fail(err)
		}
		return 0
	}
	interrupted := func() int {
		fmt.Fprintln(stderr, "srload: interrupted")
		return 130
	}
	info := workloads[cfg.workload]
	wl, err := info.build(cfg)
	if err != nil {
		return fail(err)
	}
	base, err := parseAddr(cfg.addr)
	if err != nil {
		return fail(err)
	}
	emit := func(rep *report, stopped bool) int {
		if cfg.json {
			err = rep.writeJSON(stdout)
		} else {
			err = rep.writeText(stdout)
		}
		switch {
		case err != nil:
			return fail(err)
		case stopped:
			return 130
		case rep.Requests == 0:
			return fail(errors.New("no request was measured (is -d or -n too small?)"))
		case rep.Errors > 0 || rep.Baseline != nil && rep.Baseline.Errors > 0:
			return 1
		}
		return 0
	}

	if info.inProcess { // -workload baseline: the baseline server alone
		bs, err := startBaselineServer(cfg, base.Scheme)
		if err != nil {
			return fail(fmt.Errorf("baseline server: %w", err))
		}
		defer bs.close()
		st, err := bs.measure(ctx, cfg, wl)
		if err != nil {
			return fail(err)
		}
		rep := newReport(cfg, info, st, nil)
		rep.Addr = inProcessAddr
		return emit(rep, st.interrupted)
	}

	client, err := newHTTPClient(cfg)
	if err != nil {
		return fail(err)
	}
	defer client.CloseIdleConnections()
	r := &runner{cfg: cfg, client: client, base: base, stderr: stderr}

	health, err := r.preflight(ctx)
	if err != nil {
		return fail(err)
	}
	if health != nil && info.needsUnsealed && (health.Sealed || !health.Initialized) {
		return fail(fmt.Errorf("the server at %s is sealed or not initialised", cfg.addr))
	}
	// The setup is done first, so that a wrong token or mount shows
	// before the baseline's first half; it is not done on the baseline
	// server.
	if err := r.setup(ctx, wl); err != nil {
		if ctx.Err() != nil {
			return interrupted()
		}
		return fail(err)
	}

	// The baseline is measured in two halves, just before and just after
	// the run, and merged: a drift of the machine's speed that is linear
	// in time weighs on both sides alike.
	var (
		bs     *baselineServer
		bst    *runStats
		halves = baselineHalves(cfg)
	)
	if cfg.baseline {
		where := "an in-process server"
		if cfg.baselineAddr != "" {
			bs, err = remoteBaseline(cfg)
			where = "the baseline at " + cfg.baselineAddr
		} else {
			bs, err = startBaselineServer(cfg, base.Scheme)
		}
		if err != nil {
			return fail(fmt.Errorf("baseline server: %w", err))
		}
		defer bs.close()
		r.logf("baseline: the same requests to %s before and after the run (-baseline=false skips it)", where)
		bst, err = bs.measure(ctx, halves[0], wl)
		if err != nil {
			return fail(err)
		}
		if bst.interrupted {
			return interrupted()
		}
	}
	st, err := r.measure(ctx, wl)
	if err != nil {
		if ctx.Err() != nil {
			return interrupted()
		}
		return fail(err)
	}
	if bst != nil && halves[1] != nil && ctx.Err() == nil {
		second, err := bs.measure(ctx, halves[1], wl)
		if err != nil {
			return fail(err)
		}
		bst.add(second)
	}

	rep := newReport(cfg, info, st, health)
	stopped := st.interrupted
	if bst != nil {
		brep := newReport(cfg, info, bst, nil)
		brep.Addr = bs.addr
		rep.setBaseline(brep)
		stopped = stopped || bst.interrupted
	}
	return emit(rep, stopped)
}
