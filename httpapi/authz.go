package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/policy"
	"github.com/strongroom/strongroom/engine/token"
)

// sudoPaths need the sudo capability on top of the operation's own, as
// Vault's root-protected paths (PathsSpecial.Root of the system backend and
// the token store, and sys/seal).
var sudoPaths = []string{
	"sys/seal", "sys/step-down", "sys/rotate", "sys/rotate/keyring", "sys/audit", "sys/audit/*", "sys/auth/*", "sys/remount",
	"sys/raw", "sys/raw/*", "sys/leases/revoke-prefix/*", "sys/leases/revoke-force/*",
	"auth/token/revoke-orphan", "auth/token/accessors", "sys/storage/snapshot",
}

func needsSudo(path string) bool {
	for _, p := range sudoPaths {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(path, prefix) {
				return true
			}
		} else if path == p || path == p+"/" {
			return true
		}
	}
	return false
}

// authorize decides whether token e may make the request on path: the ACL
// of its policies must allow the operation (create when exists reports the
// target new), the parameters, and sudo where the path needs it. It returns
// whether the caller has sudo on the path. Denials are
// engine.ErrPermissionDenied, with Vault's message.
func (s *Server) authorize(ctx context.Context, e *token.Entry, r *request, op engine.Operation, exists func() (bool, error)) (bool, error) {
	if e.IsRoot() {
		return true, nil
	}
	if r.t.Policies == nil {
		return false, engine.ErrPermissionDenied
	}
	acl, err := r.t.Policies.ACL(ctx, e.Policies)
	if err != nil {
		return false, err
	}
	req := policy.Request{Path: r.path, Operation: op}
	if acl.NeedsParams {
		req.Params = bodyParams(r.body)
	}
	res := acl.Allow(req)
	if op == engine.OpUpdate && exists != nil {
		// A write to a target that does not exist is a create and needs
		// the create capability; to one that exists, update. The
		// existence check costs a read, so it is made only when the two
		// capabilities give different answers.
		req.Create = true
		if asCreate := acl.Allow(req); asCreate.Allowed != res.Allowed {
			ok, err := exists()
			if err != nil {
				return false, err
			}
			if !ok {
				res = asCreate
			}
		}
	}
	if !res.Allowed || (needsSudo(r.path) && !res.RootPrivs) {
		return false, errACLDenied
	}
	return res.RootPrivs, nil
}

// errACLDenied is the refusal of a valid token that its policies do not
// allow, in Vault's words: Vault's CheckToken appends ErrPermissionDenied
// to a multierror, so the client reads "1 error occurred: * permission
// denied" (a missing or invalid token reads just "permission denied").
var errACLDenied = engine.Errorf(engine.ErrPermissionDenied, "1 error occurred:\n\t* permission denied\n\n")

// bodyParams decodes the top-level fields of a JSON body for parameter
// checks; a body that is not a JSON object has none.
func bodyParams(body []byte) map[string]any {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

// requireACL authenticates a request to a sys/ route and checks the ACL
// for it (Vault routes those through the system backend's ACL check), then
// counts the token's use.
func (s *Server) requireACL(c echo.Context, r *request, op engine.Operation) (*token.Entry, error) {
	return s.requireACLExists(c, r, op, nil)
}

// requireACLExists is requireACL for a write whose target may not exist
// yet: exists tells create from update (see authorize).
func (s *Server) requireACLExists(c echo.Context, r *request, op engine.Operation, exists func() (bool, error)) (*token.Entry, error) {
	ctx := r.ctx
	e, err := s.authenticate(ctx, r)
	if err != nil {
		return nil, err
	}
	if _, err := s.authorize(ctx, e, r, op, exists); err != nil {
		return nil, err
	}
	done, err := s.useToken(ctx, r, e)
	if err != nil {
		return nil, err
	}
	// The sys/ handlers are quick and make no further use of the token:
	// a last use revokes it now.
	done()
	return e, nil
}
