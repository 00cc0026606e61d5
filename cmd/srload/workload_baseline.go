package main

import (
	"context"
	"net/http"
)

// The baseline workload: the cheapest request a Vault-API server answers.
// Its numbers are the ceiling of srload + HTTP + the server's framework (no
// storage, no crypto, no token lookup) that the other workloads compare to.

const (
	healthPath = "/v1/sys/health"
	// Answer 200 whatever the state, so that only the request is measured.
	healthQuery = "standbyok=true&sealedcode=200&uninitcode=200"
)

func init() {
	register(workloadInfo{
		name:    "baseline",
		summary: "GET /v1/sys/health (no auth, no storage): the tool + HTTP + framework ceiling",
		build:   func(*config) (workload, error) { return baseline{}, nil },
	})
}

type baseline struct{}

func (baseline) setup(context.Context, *runner) error { return nil }

func (baseline) worker(_ int, t *target) func() *http.Request {
	return func() *http.Request { return t.get(healthPath, healthQuery) }
}
