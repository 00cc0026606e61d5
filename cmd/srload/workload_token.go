package main

import (
	"context"
	"fmt"
	"net/http"
)

// The token workloads: POST /v1/auth/token/create with
// {"policies":["default"],"ttl":"10m","type":...}, a service token (its
// entry written durably) or a batch token (nothing stored), which is what
// an application's login costs the server besides its auth method's own
// checks. The token given with -token must be allowed to create tokens
// (the root token is).

const tokenCreatePath = "/v1/auth/token/create"

func init() {
	for _, typ := range []string{"service", "batch"} {
		register(workloadInfo{
			name:          "token-create-" + typ,
			summary:       fmt.Sprintf(`POST %s {"policies":["default"],"ttl":"10m","type":%q}`, tokenCreatePath, typ),
			needsUnsealed: true,
			build: func(*config) (workload, error) {
				return tokenCreate{body: newBody(fmt.Appendf(nil, `{"policies":["default"],"ttl":"10m","type":%q}`, typ))}, nil
			},
		})
	}
}

type tokenCreate struct{ body *body }

func (tokenCreate) setup(context.Context, *runner) error { return nil }

func (w tokenCreate) worker(_ int, t *target) func() *http.Request {
	return func() *http.Request { return t.request(http.MethodPost, tokenCreatePath, "", w.body) }
}
