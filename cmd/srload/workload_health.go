package main

import (
	"context"
	"net/http"
)

// The health workload: the cheapest request a Vault-API server answers.
// Its numbers are the ceiling of srload + HTTP + the server's framework (no
// storage, no crypto, no token lookup). It is also the request pattern of
// the baseline workload (workload_baseline.go).

const (
	healthPath = "/v1/sys/health"
	// Answer 200 whatever the state, so that only the request is measured.
	healthQuery = "standbyok=true&sealedcode=200&uninitcode=200"
)

func init() {
	register(workloadInfo{
		name:    "health",
		summary: "GET /v1/sys/health (no auth, no storage): the tool + HTTP + framework ceiling",
		build:   func(*config) (workload, error) { return health{}, nil },
	})
}

type health struct{}

func (health) setup(context.Context, *runner) error { return nil }

func (health) worker(_ int, t *target) func() *http.Request {
	return func() *http.Request { return t.get(healthPath, healthQuery) }
}
