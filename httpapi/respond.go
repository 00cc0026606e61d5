package httpapi

import (
	"errors"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage"
)

// envelope is Vault's response envelope for logical requests.
type envelope struct {
	RequestID     string   `json:"request_id"`
	LeaseID       string   `json:"lease_id"`
	Renewable     bool     `json:"renewable"`
	LeaseDuration int      `json:"lease_duration"`
	Data          any      `json:"data"`
	WrapInfo      any      `json:"wrap_info"`
	Warnings      []string `json:"warnings"`
	Auth          any      `json:"auth"`
}

// writeJSON writes v as the JSON body of a code answer. It is echo's
// c.JSON without its ?pretty check, which parses the query string of every
// request (Vault has no such parameter).
func writeJSON(c echo.Context, code int, v any) error { return c.JSONPretty(code, v, "") }

// respondData writes a logical response in Vault's envelope, wrapped if
// the request asks for it and there is data.
func respondData(c echo.Context, r *request, data any, warnings []string) error {
	if len(r.queryWarnings) > 0 && (data != nil || len(warnings) > 0) {
		warnings = append(slices.Clip(warnings), r.queryWarnings...)
	}
	env := envelope{RequestID: r.id, Data: data, Warnings: warnings}
	if r.wrapTTL > 0 && data != nil {
		return wrapEnvelope(c, r, env, "")
	}
	return writeJSON(c, http.StatusOK, env)
}

// respondRaw writes body as is (the sys/ seal endpoints have no envelope),
// or 204 when body is nil, as Vault's respondOk does.
func respondRaw(c echo.Context, status int, body any) error {
	if body == nil {
		return c.NoContent(http.StatusNoContent)
	}
	return writeJSON(c, status, body)
}

type errorBody struct {
	Errors []string `json:"errors"`
}

// writeErrors writes Vault's error body with the given messages; none gives
// the empty list Vault answers for a missing secret or a wrong method.
func writeErrors(c echo.Context, status int, msgs ...string) error {
	if msgs == nil {
		msgs = []string{}
	}
	return writeJSON(c, status, errorBody{Errors: msgs})
}

// statusOf translates a sentinel error into Vault's status code. Unknown
// errors are 500 and their text is not shown to the client.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, errRequestTooLarge):
		return http.StatusRequestEntityTooLarge, "http: request body too large"
	case errors.Is(err, errAudit):
		return http.StatusInternalServerError, "internal error"
	case errors.Is(err, seal.ErrSealed):
		return http.StatusServiceUnavailable, seal.ErrSealed.Error()
	case errors.Is(err, engine.ErrPermissionDenied):
		return http.StatusForbidden, err.Error()
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrNotFoundNoBody):
		return http.StatusNotFound, ""
	case errors.Is(err, errRawMethodNotAllowed):
		return http.StatusMethodNotAllowed, ""
	case errors.Is(err, engine.ErrUnsupportedOperation):
		// Vault's router: the backend's ErrUnsupportedOperation in a
		// multierror, unless the error gives its own reason.
		var ee *engine.Error
		if errors.As(err, &ee) && ee.Reason != "" {
			return http.StatusMethodNotAllowed, ee.Reason
		}
		return http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n"
	case errors.Is(err, seal.ErrAlreadyInitialized):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, seal.ErrGone):
		// An init or seal migration that lost to the namespace's deletion.
		return http.StatusNotFound, err.Error()
	case errors.Is(err, errUnsupportedMediaType):
		return http.StatusUnsupportedMediaType, err.Error()
	case errors.Is(err, engine.ErrBadRequest):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, engine.ErrUnsupportedPath):
		// Vault's router wraps a backend's ErrUnsupportedPath in a
		// multierror; other reasons ("no handler for route ...") stand.
		if msg := err.Error(); msg != engine.ErrUnsupportedPath.Error() {
			return http.StatusNotFound, msg
		}
		return http.StatusNotFound, "1 error occurred:\n\t* unsupported path\n\n"
	case errors.Is(err, seal.ErrHSM):
		// The message names the PKCS#11 call and its return value; it
		// holds no PIN and no key material.
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, storage.ErrTimeout):
		return http.StatusServiceUnavailable, "request timed out"
	case errors.Is(err, storage.ErrUnavailable):
		return http.StatusServiceUnavailable, "storage is unavailable"
	}
	return http.StatusInternalServerError, "internal error"
}

// writeError answers err in Vault's format and logs what the client does not see.
func (s *Server) writeError(c echo.Context, r *request, err error) error {
	status, msg := statusOf(err)
	if status >= 500 && !errors.Is(err, seal.ErrSealed) {
		// The error chain comes from our own code and holds no key
		// material; it may name storage keys and PKCS#11 calls.
		s.opts.Logger.Error("request failed", "request_id", r.id, "path", r.path, "error", err.Error())
	}
	switch {
	case errors.Is(err, engine.ErrNotFoundNoBody):
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		return c.NoContent(status)
	case msg == "":
		return writeErrors(c, status)
	}
	return writeErrors(c, status, msg)
}

// handleEchoError answers the errors echo raises itself (e.g. no route).
func (s *Server) handleEchoError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	status := http.StatusInternalServerError
	if errors.As(err, &he) {
		status = he.Code
	}
	_ = writeErrors(c, status)
}
