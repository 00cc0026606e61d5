package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The entry types below are the subset of Vault's audit entry (OpenBao
// internal/audit/format.go) that Strongroom fills. Field order, JSON names
// and omitempty follow Vault's, so the lines are byte-for-byte what Vault
// writes for the same input, save the fields Strongroom has no value for.

type requestEntry struct {
	Time    string        `json:"time,omitempty"`
	Type    string        `json:"type,omitempty"`
	Auth    *authEntry    `json:"auth,omitempty"`
	Request *requestField `json:"request,omitempty"`
	Error   string        `json:"error,omitempty"`
}

type responseEntry struct {
	Time     string         `json:"time,omitempty"`
	Type     string         `json:"type,omitempty"`
	Auth     *authEntry     `json:"auth,omitempty"`
	Request  *requestField  `json:"request,omitempty"`
	Response *responseField `json:"response,omitempty"`
	Error    string         `json:"error,omitempty"`
}

type requestField struct {
	ID                  string              `json:"id,omitempty"`
	Operation           string              `json:"operation,omitempty"`
	MountPoint          string              `json:"mount_point,omitempty"`
	MountType           string              `json:"mount_type,omitempty"`
	ClientToken         string              `json:"client_token,omitempty"`
	ClientTokenAccessor string              `json:"client_token_accessor,omitempty"`
	Namespace           *namespaceField     `json:"namespace,omitempty"`
	Path                string              `json:"path,omitempty"`
	Data                map[string]any      `json:"data,omitempty"`
	RemoteAddr          string              `json:"remote_address,omitempty"`
	RemotePort          int                 `json:"remote_port,omitempty"`
	Headers             map[string][]string `json:"headers,omitempty"`
}

type responseField struct {
	Auth       *authEntry     `json:"auth,omitempty"`
	MountPoint string         `json:"mount_point,omitempty"`
	MountType  string         `json:"mount_type,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
	Warnings   []string       `json:"warnings,omitempty"`
	WrapInfo   *wrapInfoEntry `json:"wrap_info,omitempty"`
}

// wrapInfoEntry is Vault's audit ResponseWrapInfo: the token is hashed,
// and the accessors are unless hmac_accessor is false.
type wrapInfoEntry struct {
	TTL             int    `json:"ttl"`
	Token           string `json:"token"`
	Accessor        string `json:"accessor"`
	CreationTime    string `json:"creation_time"`
	CreationPath    string `json:"creation_path"`
	WrappedAccessor string `json:"wrapped_accessor,omitempty"`
}

func (f *formatter) wrapInfo(w *WrapInfo) *wrapInfoEntry {
	if w == nil {
		return nil
	}
	return &wrapInfoEntry{TTL: w.TTL, Token: f.token(w.Token), Accessor: f.accessor(w.Accessor),
		CreationTime: w.CreationTime, CreationPath: w.CreationPath, WrappedAccessor: f.accessor(w.WrappedAccessor)}
}

type authEntry struct {
	ClientToken   string            `json:"client_token,omitempty"`
	Accessor      string            `json:"accessor,omitempty"`
	DisplayName   string            `json:"display_name,omitempty"`
	Policies      []string          `json:"policies,omitempty"`
	TokenPolicies []string          `json:"token_policies,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	EntityID      string            `json:"entity_id,omitempty"`
	TokenType     string            `json:"token_type,omitempty"`
	TokenTTL      int64             `json:"token_ttl,omitempty"`
}

type namespaceField struct {
	ID   string `json:"id,omitempty"`
	Path string `json:"path,omitempty"`
}

// formatter turns requests and responses into lines. It is immutable.
type formatter struct {
	h            *hasher
	raw          bool // log_raw: hash nothing
	hmacAccessor bool
	prefix       string
	now          func() time.Time
}

// token hashes a token, unless raw.
func (f *formatter) token(s string) string {
	if f.raw || s == "" {
		return s
	}
	return f.h.hash(s)
}

// accessor hashes an accessor, unless raw or hmac_accessor is false.
func (f *formatter) accessor(s string) string {
	if !f.hmacAccessor {
		return s
	}
	return f.token(s)
}

// data hashes request or response data, unless raw.
func (f *formatter) data(d map[string]any, where string) (map[string]any, error) {
	if f.raw {
		return d, nil
	}
	return f.h.hashData(d, where)
}

// auth converts a; nil gives nil.
func (f *formatter) auth(a *Auth) *authEntry {
	if a == nil {
		return nil
	}
	tokenType := a.TokenType
	if tokenType == "" {
		tokenType = "default"
	}
	return &authEntry{
		ClientToken:   f.token(a.ClientToken),
		Accessor:      f.accessor(a.Accessor),
		DisplayName:   a.DisplayName,
		Policies:      a.Policies,
		TokenPolicies: a.TokenPolicies,
		Metadata:      a.Metadata,
		EntityID:      a.EntityID,
		TokenType:     tokenType,
		TokenTTL:      a.TokenTTL,
	}
}

// requestAuth is the top-level auth of an entry: Vault writes one even for
// an unauthenticated request, with only "token_type":"default" in it.
func (f *formatter) requestAuth(a *Auth) *authEntry {
	if a == nil {
		a = &Auth{}
	}
	return f.auth(a)
}

// request converts r. auth and ae are the entry's auth and its conversion:
// the request's token and accessor are most often the auth's, whose hashes
// are then reused.
func (f *formatter) request(r *Request, auth *Auth, ae *authEntry) (*requestField, error) {
	data, err := f.data(r.Data, "request data")
	if err != nil {
		return nil, err
	}
	token, accessor := ae.ClientToken, ae.Accessor
	if auth == nil || r.ClientToken != auth.ClientToken {
		token = f.token(r.ClientToken)
	}
	if auth == nil || r.ClientTokenAccessor != auth.Accessor {
		accessor = f.accessor(r.ClientTokenAccessor)
	}
	addr, port := splitRemoteAddr(r.RemoteAddr)
	return &requestField{
		ID:                  r.ID,
		Operation:           r.Operation,
		MountPoint:          r.MountPoint,
		MountType:           r.MountType,
		ClientToken:         token,
		ClientTokenAccessor: accessor,
		Namespace:           namespace(r.Namespace),
		Path:                r.Path,
		Data:                data,
		RemoteAddr:          addr,
		RemotePort:          port,
		Headers:             lowerKeys(r.Headers),
	}, nil
}

// formatRequest appends the request line for (auth, req, reqErr) to buf.
func (f *formatter) formatRequest(buf *bytes.Buffer, auth *Auth, req *Request, reqErr error) (err error) {
	defer recoverEncode(&err)
	ae := f.requestAuth(auth)
	rf, err := f.request(req, auth, ae)
	if err != nil {
		return err
	}
	return f.encode(buf, &requestEntry{
		Time:    f.time(),
		Type:    "request",
		Auth:    ae,
		Request: rf,
		Error:   errorText(reqErr),
	})
}

// formatResponse appends the response line for (auth, req, resp, respErr)
// to buf. resp may be nil.
func (f *formatter) formatResponse(buf *bytes.Buffer, auth *Auth, req *Request, resp *Response, respErr error) (err error) {
	defer recoverEncode(&err)
	if resp == nil {
		resp = &Response{}
	}
	ae := f.requestAuth(auth)
	rf, err := f.request(req, auth, ae)
	if err != nil {
		return err
	}
	data, err := f.data(resp.Data, "response data")
	if err != nil {
		return err
	}
	return f.encode(buf, &responseEntry{
		Time:    f.time(),
		Type:    "response",
		Auth:    ae,
		Request: rf,
		Response: &responseField{
			Auth:       f.auth(resp.Auth),
			MountPoint: req.MountPoint,
			MountType:  req.MountType,
			Data:       data,
			Warnings:   resp.Warnings,
			WrapInfo:   f.wrapInfo(resp.WrapInfo),
		},
		Error: errorText(respErr),
	})
}

func (f *formatter) time() string {
	return f.now().UTC().Format(time.RFC3339Nano)
}

// encode appends the prefix and entry's JSON line to buf, as Vault's
// JSONFormatWriter does (json.Encoder's defaults, HTML escaping included).
// On error buf holds no partial line.
func (f *formatter) encode(buf *bytes.Buffer, entry any) error {
	start := buf.Len()
	buf.WriteString(f.prefix)
	if err := json.NewEncoder(buf).Encode(entry); err != nil {
		buf.Truncate(start)
		return fmt.Errorf("%w: %w", ErrEncode, describeJSONError(entry, err))
	}
	return nil
}

// recoverEncode turns a panic while formatting (a MarshalJSON of the
// caller's data that panics) into ErrEncode, so that one bad value fails
// the request instead of the server.
func recoverEncode(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: panic while encoding", ErrEncode)
	}
}

// errorText is the entry's "error" field, as Vault writes it.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// namespace converts Strongroom's namespace path into Vault's namespace
// field. The root namespace is {"id":"root"} as in Vault. A tenant has path
// "a/b/" (Vault's form, with the trailing slash); Strongroom has no
// separate namespace ids, so its id is the path without that slash.
func namespace(ns string) *namespaceField {
	p := strings.Trim(ns, "/")
	if p == "" || p == "root" {
		return &namespaceField{ID: "root"}
	}
	return &namespaceField{ID: p, Path: p + "/"}
}

// splitRemoteAddr splits "host:port" into Vault's remote_address and
// remote_port. An address without a valid port is kept whole.
func splitRemoteAddr(addr string) (string, int) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return addr, 0
	}
	return host, int(port)
}

// lowerKeys returns h with lower-case keys, as Vault writes audited headers.
// h is not modified.
func lowerKeys(h map[string][]string) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	lower := true
	for k := range h {
		if k != strings.ToLower(k) {
			lower = false
			break
		}
	}
	if lower {
		return h
	}
	out := make(map[string][]string, len(h))
	for k, v := range h {
		lk := strings.ToLower(k)
		out[lk] = append(out[lk], v...)
	}
	return out
}

// errNilRequest is returned for a call without a request.
var errNilRequest = errors.New("nil request")
