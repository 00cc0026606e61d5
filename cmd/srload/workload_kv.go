package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The KV workloads, on a KV version 1 or version 2 mount (-mount, which must
// already exist with that version):
//
//	kvN-write  PUT one key per request
//	kvN-read   setup writes every key once (not timed), then GET one key per request
//	kvN-mixed  setup as kvN-read, then -reads percent GETs and the rest PUTs
//
// Keys are <mount>/<prefix><i> (v1) or <mount>/data/<prefix><i> (v2) for i
// in 0..-keys-1. The value is -size random bytes, base64-encoded (so the
// stored string is about 4/3 of -size), {"data":{"value":...}} for v2 and
// {"value":...} for v1. The bodies are built before the run: 16 different
// values, key i gets value i%16.

const kvDistinctValues = 16

func init() {
	for _, version := range []int{1, 2} {
		path, body := "/v1/<mount>/<key>", `{"value":...}`
		if version == 2 {
			path, body = "/v1/<mount>/data/<key>", `{"data":{"value":...}}`
		}
		summaries := map[string]string{
			"write": "PUT " + path + " " + body,
			"read":  "GET " + path + " (setup writes every key first)",
			"mixed": "-reads% GET, the rest PUT " + path + " (setup writes every key first)",
		}
		for _, op := range []string{"write", "read", "mixed"} {
			register(workloadInfo{
				name:          fmt.Sprintf("kv%d-%s", version, op),
				summary:       fmt.Sprintf("KV v%d: %s", version, summaries[op]),
				usesKeys:      true,
				needsUnsealed: true,
				build:         kvBuilder(version, op),
			})
		}
	}
	register(workloadInfo{
		name:          "mixed",
		summary:       "the same as kv2-mixed",
		usesKeys:      true,
		needsUnsealed: true,
		build:         kvBuilder(2, "mixed"),
	})
}

type kvWorkload struct {
	cfg     *config
	version int
	op      string // write, read, mixed
	prefix  string // request path up to the key number
	bodies  []*body
}

func kvBuilder(version int, op string) func(cfg *config) (workload, error) {
	return func(cfg *config) (workload, error) {
		mount := strings.Trim(cfg.mount, "/")
		if mount == "" {
			return nil, fmt.Errorf("-mount is empty")
		}
		k := &kvWorkload{cfg: cfg, version: version, op: op, prefix: "/v1/" + mount + "/"}
		if version == 2 {
			k.prefix += "data/"
		}
		k.prefix += cfg.keyPrefix
		for range min(cfg.keys, kvDistinctValues) {
			raw := make([]byte, cfg.size)
			_, _ = rand.Read(raw)
			var v any = map[string]string{"value": base64.StdEncoding.EncodeToString(raw)}
			if version == 2 {
				v = map[string]any{"data": v}
			}
			data, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			k.bodies = append(k.bodies, newBody(data))
		}
		return k, nil
	}
}

func (k *kvWorkload) path(i int) string { return k.prefix + strconv.Itoa(i) }

func (k *kvWorkload) write(t *target, i int) *http.Request {
	return t.request(http.MethodPut, k.path(i), "", k.bodies[i%len(k.bodies)])
}

func (k *kvWorkload) read(t *target, i int) *http.Request {
	return t.get(k.path(i), "")
}

func (k *kvWorkload) setup(ctx context.Context, r *runner) error {
	if k.version == 2 {
		// A KV v1 mount takes a v2 request as a write of the key
		// "data/<key>" and answers 204 where v2 answers 200 with the
		// version: the run would measure the wrong engine.
		req := k.write(newTarget(ctx, r.base, r.cfg), 0)
		status, errBody, err := call(r.client, req)
		r.setupRequests.Add(1)
		switch {
		case err != nil || status/100 != 2:
			return fmt.Errorf("%s %s: %s%s", req.Method, req.URL.Path, describeFailure(status, errBody, err), r.hint(status))
		case status == http.StatusNoContent:
			return fmt.Errorf("-mount %s looks like a KV v1 mount (a KV v2 write answered 204 No Content); use the kv1-* workloads", k.cfg.mount)
		}
	}
	if k.op == "write" {
		return nil
	}
	start := time.Now()
	r.logf("setup: writing %d keys under %s", k.cfg.keys, k.prefix)
	if err := r.each(ctx, k.cfg.keys, k.write); err != nil {
		return err
	}
	r.logf("setup: done in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

func (k *kvWorkload) worker(id int, t *target) func() *http.Request {
	keys := newKeyPicker(k.cfg, id)
	switch k.op {
	case "write":
		return func() *http.Request { return k.write(t, keys.pick()) }
	case "read":
		return func() *http.Request { return k.read(t, keys.pick()) }
	}
	ops := workerRand(streamOps, id)
	return func() *http.Request {
		if ops.IntN(100) < k.cfg.readPct {
			return k.read(t, keys.pick())
		}
		return k.write(t, keys.pick())
	}
}
