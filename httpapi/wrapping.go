package httpapi

// Response wrapping (Vault's wrapInCubbyhole, vault/wrapping.go, and the
// sys/wrapping/* handlers of vault/logical_system.go, as OpenBao has them).
//
// A request with X-Vault-Wrap-TTL above zero gets, instead of its
// response, a single-use token that lives that long: the wrapping token.
// The response (Vault's HTTP envelope, marshaled, with the original
// request's ID) is stored in the wrapping token's cubbyhole as
// cubbyhole/response {"response": "<json>"}, next to cubbyhole/wrapinfo
// {creation_ttl (nanoseconds), creation_time, creation_path}; the token,
// both records and its indexes are written in one transaction. The
// wrapping token's only policy is response-wrapping, which allows reading
// cubbyhole/response and sys/wrapping/unwrap. Unwrapping reads the response
// and revokes the token (its cubbyhole with it) in one transaction, so a
// response is unwrapped at most once.
//
// Which requests wrap: every engine path (secrets engines, auth/token/*,
// auth methods, cubbyhole/) and every sys/ path answered in Vault's
// envelope (respondData: mounts, policies, capabilities, namespaces, ...,
// sys/wrapping/wrap and sys/wrapping/rewrap). A response without data or
// auth (204) and an error are not wrapped, as in Vault. The sys/ paths
// whose answer is not the envelope (seal, health, rekey, generate-root,
// snapshot, metrics: route.noWrap or sealedOK) and sys/wrapping/unwrap and
// lookup refuse a wrap TTL with 400 before doing anything: answering them
// unwrapped would show a secret to a client that asked to see only a
// wrapping token (Vault's raw handlers ignore the header). JWT wrapping
// tokens (X-Vault-Wrap-Format: jwt) are not made; the header is ignored,
// as Vault does for sys/wrapping/wrap.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/cubbyhole"
	"github.com/strongroom/strongroom/engine/kv"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/tenant"
)

// wrapTTLHeader is how a client asks for response wrapping: the response
// held in a single-use token that lives this long.
const wrapTTLHeader = "X-Vault-Wrap-TTL"

// wrapTTLKey is the header's canonical form, computed once: Header.Get
// would canonicalise (and allocate) on every request.
var wrapTTLKey = http.CanonicalHeaderKey(wrapTTLHeader)

// errWrappingUnsupported refuses a wrap TTL on a sys/ endpoint that does
// not wrap its response; the request is not carried out.
var errWrappingUnsupported = engine.Errorf(engine.ErrBadRequest,
	"response wrapping (%s) is not supported on this path; the request was not carried out", wrapTTLHeader)

// errInvalidWrappingToken is Vault's consts.ErrInvalidWrappingToken: the
// token to unwrap, look up or rewrap is unknown, expired, already used, or
// not a wrapping token, and the answer does not say which.
var errInvalidWrappingToken = engine.Errorf(engine.ErrBadRequest, "wrapping token is not valid or does not exist")

// The cubbyhole records of a wrapping token.
const (
	wrapResponsePath = cubbyhole.ResponsePath
	wrapInfoPath     = "wrapinfo"
)

// checkWrapTTL reads the wrap TTL header as Vault's requestWrapInfo does
// (http/handler.go): absent, empty or zero asks for nothing (0); a value
// that is not a duration, or is negative, is a 400 "error parsing
// X-Vault-Wrap-TTL header: ..." (http/logical.go). It allocates nothing
// when the header is absent.
func checkWrapTTL(h http.Header) (time.Duration, error) {
	var v string
	if vs := h[wrapTTLKey]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return 0, nil
	}
	d, err := engine.ParseDuration(v)
	switch {
	case err != nil:
		return 0, engine.Errorf(engine.ErrBadRequest, "error parsing %s header: %s", wrapTTLHeader, err.Error())
	case d < 0:
		return 0, engine.Errorf(engine.ErrBadRequest, "error parsing %s header: requested wrap ttl cannot be negative", wrapTTLHeader)
	}
	return d, nil
}

// wrapInfo is the envelope's wrap_info (Vault's logical.HTTPWrapInfo).
type wrapInfo struct {
	Token           string `json:"token"`
	Accessor        string `json:"accessor"`
	TTL             int    `json:"ttl"`
	CreationTime    string `json:"creation_time"`
	CreationPath    string `json:"creation_path"`
	WrappedAccessor string `json:"wrapped_accessor,omitempty"`
}

// storedWrapInfo is the cubbyhole/wrapinfo record, as Vault writes it:
// creation_ttl is a time.Duration, in nanoseconds.
type storedWrapInfo struct {
	CreationTTL  int64  `json:"creation_ttl"`
	CreationTime string `json:"creation_time"`
	CreationPath string `json:"creation_path"`
}

// wrapRequest is what wrapping one response needs.
type wrapRequest struct {
	TTL          time.Duration
	Response     string // the marshaled envelope
	CreationPath string
	// DisplayName is the caller's token's display name, which Vault gives
	// the wrapping token.
	DisplayName     string
	WrappedAccessor string
}

// wrap stores req in a new wrapping token of tenant t and returns the
// envelope's wrap_info. Nothing is stored if it fails.
func wrap(ctx context.Context, t *tenant.Tenant, req wrapRequest, now time.Time) (*wrapInfo, error) {
	tok, err := token.New()
	if err != nil {
		return nil, err
	}
	var th []byte
	err = t.Sys.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		th, err = token.Hash(tx, tok)
		return err
	})
	if err != nil {
		return nil, err
	}
	created := now.UTC().Format(time.RFC3339Nano)
	e := &token.Entry{
		Policies: []string{token.ResponseWrappingPolicy}, Path: req.CreationPath, DisplayName: req.DisplayName,
		NumUses: 1, CreationTime: now.Unix(), IssueTime: now.Unix(), TTL: req.TTL, ExplicitMaxTTL: req.TTL,
		ExpireTime: now.Add(req.TTL).Unix(), Type: "service",
	}
	info := map[string]any{"creation_ttl": int64(req.TTL), "creation_time": created, "creation_path": req.CreationPath}
	err = kv.PutV1(ctx, cubbyhole.View(t.Sys.Barrier, th), wrapResponsePath, map[string]any{"response": req.Response}, func(tx *seal.Tx) error {
		if err := kv.SetV1(tx, wrapInfoPath, info); err != nil {
			return err
		}
		return token.CreateWith(tx.Tenant(), tok, e)
	})
	if err != nil {
		return nil, err
	}
	return &wrapInfo{
		Token: tok, Accessor: e.Accessor, TTL: int(req.TTL / time.Second), CreationTime: created,
		CreationPath: req.CreationPath, WrappedAccessor: req.WrappedAccessor,
	}, nil
}

// respondWrapped writes the answer to a wrapped request: Vault's envelope
// with only wrap_info set (no request ID, data, warnings or auth).
func respondWrapped(c echo.Context, info *wrapInfo) error {
	return writeJSON(c, http.StatusOK, envelope{WrapInfo: info})
}

// wrapEnvelope wraps env, the response the request would have had.
func wrapEnvelope(c echo.Context, r *request, env envelope, wrappedAccessor string) error {
	raw, err := json.Marshal(env)
	if err != nil {
		return err
	}
	info, err := wrap(r.ctx, r.t, wrapRequest{
		TTL: r.wrapTTL, Response: string(raw), CreationPath: r.path,
		DisplayName: r.displayName, WrappedAccessor: wrappedAccessor,
	}, r.start)
	if err != nil {
		return err
	}
	return respondWrapped(c, info)
}

// wrappingRequest is the body of sys/wrapping/{unwrap,lookup,rewrap}.
type wrappingRequest struct {
	Token string `json:"token"`
}

// wrappingToken returns the token a sys/wrapping/{unwrap,lookup,rewrap}
// request names: the body's token, or else the caller's own (the wrapping
// token presented as X-Vault-Token). thirdParty reports the former.
func wrappingToken(r *request) (tok string, thirdParty bool, err error) {
	var in wrappingRequest
	if err := decodeJSON(r.body, &in); err != nil {
		return "", false, err
	}
	if in.Token != "" {
		return in.Token, true, nil
	}
	return r.token, false, nil
}

// wrapped is what a wrapping token holds.
type wrapped struct {
	response string
	info     storedWrapInfo
}

// liveWrapping returns the keyed hash of tok, inside tx, if tok is a live
// wrapping token with its use left; errInvalidWrappingToken otherwise.
func liveWrapping(tx *seal.ReadTx, tok string, now time.Time) ([]byte, error) {
	th, err := token.Hash(tx, tok)
	if errors.Is(err, token.ErrInvalid) {
		return nil, errInvalidWrappingToken
	}
	if err != nil {
		return nil, err
	}
	e, err := token.LookupHash(tx, th, now)
	if errors.Is(err, token.ErrInvalid) {
		return nil, errInvalidWrappingToken
	}
	if err != nil {
		return nil, err
	}
	if !e.IsWrapping() || e.NumUses == token.RevocationPending {
		return nil, errInvalidWrappingToken
	}
	return th, nil
}

// readWrapped reads, inside tx, what the live wrapping token tok holds,
// and returns it with the token's keyed hash (see liveWrapping).
func readWrapped(tx *seal.ReadTx, tok string, now time.Time) (*wrapped, []byte, error) {
	th, err := liveWrapping(tx, tok, now)
	if err != nil {
		return nil, nil, err
	}
	cub := cubbyhole.In(tx, th)
	var out wrapped
	var resp struct {
		Response string `json:"response"`
	}
	if err := kv.GetV1(cub, wrapResponsePath, &resp); err != nil {
		if errors.Is(err, engine.ErrNotFound) {
			return nil, nil, errInvalidWrappingToken
		}
		return nil, nil, err
	}
	out.response = resp.Response
	if err := kv.GetV1(cub, wrapInfoPath, &out.info); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return nil, nil, err
	}
	return &out, th, nil
}

// authorizeWrapping authenticates the caller of sys/wrapping/{unwrap,rewrap}
// and checks its policies allow update on the path. A third party's token
// is used as for any request; a wrapping token presented as the caller's
// own is consumed by the operation itself (consumeWrapped), which must
// then be the token's last use.
func (s *Server) authorizeWrapping(r *request, tok string, thirdParty bool) (func(), error) {
	// Vault validates the wrapping token before the caller's
	// (request_handling.go): a used or unknown one is a 400 either way.
	if err := r.t.Sys.Barrier.View(r.ctx, func(tx *seal.ReadTx) error {
		_, err := liveWrapping(tx, tok, s.opts.Now())
		return err
	}); err != nil {
		return nil, err
	}
	e, err := s.authenticate(r.ctx, r)
	if err != nil {
		return nil, err
	}
	if _, err := s.authorize(r.ctx, e, r, engine.OpUpdate, nil); err != nil {
		return nil, err
	}
	if !thirdParty {
		// tok is the caller's own token, found live and wrapping above.
		return func() {}, nil
	}
	r.displayName = e.DisplayName
	return s.useToken(r.ctx, r, e)
}

// consumeWrapped reads what the wrapping token tok holds and revokes the
// token, with its cubbyhole, in the same transaction: a wrapped response
// is read at most once.
func (s *Server) consumeWrapped(ctx context.Context, t *tenant.Tenant, tok string) (*wrapped, error) {
	var out *wrapped
	err := t.Sys.Barrier.Update(ctx, func(tx *seal.Tx) error {
		w, th, err := readWrapped(&tx.ReadTx, tok, s.opts.Now())
		if err != nil {
			return err
		}
		out = w
		// A wrapping token has a use limit: no cache holds it.
		return token.RevokeTree(tx, th)
	})
	return out, err
}

// takeWrapped serves the common part of unwrap and rewrap: it authorises
// the caller, then reads and revokes the wrapping token the request names
// (see consumeWrapped). A third party's own token use is counted once the
// wrapping token is taken.
func (s *Server) takeWrapped(r *request) (*wrapped, error) {
	tok, thirdParty, err := wrappingToken(r)
	if err != nil {
		return nil, err
	}
	done, err := s.authorizeWrapping(r, tok, thirdParty)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.consumeWrapped(r.ctx, r.t, tok)
}

// POST sys/wrapping/unwrap: the wrapped response, as it was (Vault's
// handleWrappingUnwrap). It answers the stored envelope itself, so the
// client reads the original request's ID, data, auth and warnings; an
// empty response is a 204.
func (s *Server) wrappingUnwrap(c echo.Context, r *request) error {
	w, err := s.takeWrapped(r)
	if err != nil {
		return err
	}
	if w.response == "" {
		return c.NoContent(http.StatusNoContent)
	}
	return c.JSONBlob(http.StatusOK, []byte(w.response))
}

// POST sys/wrapping/lookup: the wrapping token's creation TTL (seconds),
// time and path, without using it (Vault's handleWrappingLookup). As in
// Vault, the path needs no token (PathsSpecial.Unauthenticated): it tells
// only whether a token is a live wrapping token, and its creation.
func (s *Server) wrappingLookup(c echo.Context, r *request) error {
	tok, _, err := wrappingToken(r)
	if err != nil {
		return err
	}
	if tok == "" {
		return engine.Errorf(engine.ErrBadRequest, `missing "token" value in input`)
	}
	var w *wrapped
	err = r.t.Sys.Barrier.View(r.ctx, func(tx *seal.ReadTx) error {
		var err error
		w, _, err = readWrapped(tx, tok, s.opts.Now())
		return err
	})
	if err != nil {
		return err
	}
	return respondData(c, r, map[string]any{
		"creation_ttl":  w.info.CreationTTL / int64(time.Second),
		"creation_time": w.info.CreationTime,
		"creation_path": w.info.CreationPath,
	}, nil)
}

// POST sys/wrapping/rewrap: the same response in a new wrapping token with
// the old one's creation TTL and path; the old token is revoked (Vault's
// handleWrappingRewrap).
func (s *Server) wrappingRewrap(c echo.Context, r *request) error {
	w, err := s.takeWrapped(r)
	if err != nil {
		return err
	}
	ttl := time.Duration(w.info.CreationTTL)
	if ttl <= 0 {
		return errInvalidWrappingToken
	}
	info, err := wrap(r.ctx, r.t, wrapRequest{TTL: ttl, Response: w.response, CreationPath: w.info.CreationPath,
		DisplayName: r.displayName}, s.opts.Now())
	if err != nil {
		return err
	}
	return respondWrapped(c, info)
}

// POST sys/wrapping/wrap: the request's body, wrapped (Vault's
// handleWrappingWrap); without a wrap TTL it is a 400.
func (s *Server) wrappingWrap(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	if r.wrapTTL <= 0 {
		return engine.Errorf(engine.ErrBadRequest, "endpoint requires response wrapping to be used")
	}
	var data map[string]any
	if err := decodeJSON(r.body, &data); err != nil {
		return err
	}
	if data == nil {
		data = map[string]any{} // Vault's data.Raw of an empty body
	}
	return wrapEnvelope(c, r, envelope{RequestID: r.id, Data: data}, "")
}

// wrappingRoutes are the sys/wrapping/* rows of the route table.
func (s *Server) wrappingRoutes() map[string]*route {
	post := func(h handlerFunc, noWrap bool) *route {
		return &route{noWrap: noWrap, methods: map[string]handlerFunc{http.MethodPost: h, http.MethodPut: h}}
	}
	return map[string]*route{
		"sys/wrapping/wrap":   post(s.wrappingWrap, false),
		"sys/wrapping/unwrap": post(s.wrappingUnwrap, true),
		"sys/wrapping/lookup": post(s.wrappingLookup, true),
		"sys/wrapping/rewrap": post(s.wrappingRewrap, false),
	}
}
