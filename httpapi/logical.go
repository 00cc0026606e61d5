package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/mounts"
)

var methodOps = map[string]engine.Operation{
	http.MethodGet: engine.OpRead, http.MethodPut: engine.OpUpdate, http.MethodPost: engine.OpUpdate,
	http.MethodDelete: engine.OpDelete, "LIST": engine.OpList, http.MethodPatch: engine.OpPatch,
}

// logical serves a path of a mounted engine: authenticate, authorise, route
// to the mount, and write the engine's response in Vault's envelope.
func (s *Server) logical(c echo.Context, r *request, method string) error {
	ctx := c.Request().Context()
	// Until ACL policies exist, engine paths need the root policy.
	if err := s.requireRoot(c, r); err != nil {
		return err
	}
	op, ok := methodOps[method]
	if !ok {
		return engine.ErrUnsupportedOperation
	}
	if op == engine.OpPatch {
		// Vault's HTTP layer (http/logical.go) answers 415 before any engine.
		if ct := c.Request().Header.Get("Content-Type"); ct != mergePatchType {
			return engine.Errorf(errUnsupportedMediaType, "PATCH requires Content-Type of %s, provided %s", mergePatchType, ct)
		}
	}
	if s.opts.Mounts == nil {
		return engine.Errorf(engine.ErrUnsupportedPath, "no handler for route %q. route entry not found.", r.path)
	}
	entry, backend, rest, err := s.opts.Mounts.Route(ctx, r.path)
	if errors.Is(err, mounts.ErrNoMount) {
		return engine.Errorf(engine.ErrUnsupportedPath, "no handler for route %q. route entry not found.", r.path)
	}
	if err != nil {
		return err
	}
	q := c.QueryParams()
	q.Del("list")
	resp, err := backend.HandleRequest(ctx, &engine.Request{
		ID: r.id, Operation: op, MountPath: entry.Path, Path: rest, Body: r.body,
		ContentType: c.Request().Header.Get("Content-Type"), Query: q,
	})
	if err != nil {
		return err
	}
	return respondLogical(c, r, resp)
}

// respondLogical writes an engine response: 204 without data, else the
// envelope with the engine's status (200 by default).
func respondLogical(c echo.Context, r *request, resp *engine.Response) error {
	if resp == nil || (resp.Data == nil && resp.Status == 0 && len(resp.Warnings) == 0) {
		return c.NoContent(http.StatusNoContent)
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	return c.JSON(status, envelope{RequestID: r.id, Data: resp.Data, Warnings: resp.Warnings})
}

// prefixTable lists the sys/ routes that take a path argument.
func (s *Server) prefixTable() []prefixRoute {
	return []prefixRoute{
		{"sys/internal/ui/mounts/", &route{methods: map[string]handlerFunc{http.MethodGet: s.uiMount}}},
		{"sys/mounts/", &route{methods: map[string]handlerFunc{
			http.MethodGet: s.mountRead, http.MethodPost: s.mountWrite, http.MethodPut: s.mountWrite, http.MethodDelete: s.mountDelete}}},
	}
}

func (s *Server) prefixRoute(path string) (*route, bool) {
	for _, p := range s.prefixes {
		if strings.HasPrefix(path, p.prefix) {
			return p.route, true
		}
	}
	return nil, false
}

const mergePatchType = "application/merge-patch+json"

var errUnsupportedMediaType = errors.New("unsupported media type")
