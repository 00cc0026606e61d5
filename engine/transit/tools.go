package transit

import (
	"context"
	"crypto/rand"
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// Tools serves Vault's sys/tools paths, which share transit's code in
// Vault too: random[/<source>][/<bytes>] and hash[/<algorithm>], with the
// request's path below sys/tools/. They need no key and no storage.
func Tools(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	b := &Backend{rand: rand.Reader}
	head, rest, _ := strings.Cut(req.Path, "/")
	if req.Operation != engine.OpUpdate {
		return nil, engine.ErrUnsupportedOperation
	}
	switch {
	case head == "random":
		return b.pathRandom(ctx, req, rest)
	case head == "hash" && !strings.Contains(rest, "/"):
		return b.pathHash(ctx, req, rest)
	}
	return nil, engine.Errorf(engine.ErrUnsupportedPath, "1 error occurred:\n\t* unsupported path\n\n")
}
