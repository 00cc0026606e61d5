// Package audit writes Strongroom's audit log in the format of HashiCorp
// Vault's file audit device, so that tools which parse Vault audit logs
// (SIEM parsers, `jq` recipes, Vault's own audit-hash workflow) work unchanged.
//
// Every request is written as one JSON line of "type":"request" before it is
// served, and one line of "type":"response" after. The field names and the
// nesting are Vault's: time, type, auth{...}, request{...}, response{...},
// error. Unless a device logs raw, every sensitive value appears only as
// "hmac-sha256:<hex>", the HMAC-SHA256 of the value under the device's salt:
// client tokens, accessors (unless hmac_accessor is false) and every string
// inside request and response data, at any depth. Keys are never hashed, and
// numbers, booleans and nulls are written as they are. (*Device).Hash gives
// the same form for one input, as Vault's sys/audit-hash does.
//
// A [Broker] holds the enabled devices and fails closed: when devices are
// enabled and none of them could write a line, LogRequest and LogResponse
// return an error matching [ErrAuditFailed], and the caller must then fail
// the request (Vault answers 500).
//
// The front door fills the plain structs [Request], [Auth] and [Response].
// This package never changes them and never keeps them after a call returns.
package audit

import (
	"errors"
	"strconv"
	"strings"
)

// Request is a request as the audit log records it. The front door fills it.
type Request struct {
	// ID is the request's unique id (Vault's request.id).
	ID string
	// Operation is Vault's name for it: "read", "update", "create", "delete",
	// "list" or "patch".
	Operation string
	// MountType is the type of the engine serving the path ("transit", "kv").
	MountType string
	// MountPoint is the mount's path with its trailing slash ("transit/").
	MountPoint string
	// Path is the request path relative to the namespace ("transit/encrypt/k").
	Path string
	// ClientToken is the token the client presented. It is hashed unless the
	// device logs raw.
	ClientToken string
	// ClientTokenAccessor is the accessor of ClientToken. It is hashed unless
	// the device logs raw or does not hash accessors.
	ClientTokenAccessor string
	// Data is the request body. Every string in it, at any depth, is hashed
	// unless the device logs raw. Values that are not maps, slices, strings,
	// numbers, booleans or nil are first encoded to JSON, as Vault does, so
	// the strings they encode to are hashed too. Data is not modified.
	Data map[string]any
	// RemoteAddr is the client's address, "host" or "host:port" (as in
	// http.Request.RemoteAddr). A port is written apart, as remote_port.
	RemoteAddr string
	// Namespace is "root" (or empty) for the root namespace, else the
	// tenant's path ("team-a" or "team-a/").
	Namespace string
	// Headers are the request headers the operator chose to audit, and only
	// those: the front door applies the allow-list. They are written as they
	// are, under lower-case names, as Vault writes audited headers that are
	// not configured for HMAC.
	Headers map[string][]string
}

// Auth is the authentication of a request, or the one a login response
// issues.
type Auth struct {
	// ClientToken is hashed unless the device logs raw.
	ClientToken string
	// Accessor is hashed unless the device logs raw or does not hash
	// accessors.
	Accessor      string
	DisplayName   string
	Policies      []string
	TokenPolicies []string
	// Metadata is written as it is, as in Vault.
	Metadata map[string]string
	// TokenType is "service" or "batch". Empty is written as "default", the
	// name Vault gives to an unset token type.
	TokenType string
	// TokenTTL is the token's TTL in seconds.
	TokenTTL int64
	EntityID string
}

// Response is a response as the audit log records it.
type Response struct {
	// Data is the response body. Every string in it, at any depth, is hashed
	// unless the device logs raw, as for Request.Data. Data is not modified.
	Data map[string]any
	// Auth is the authentication a login or token-create response issues;
	// nil for any other response.
	Auth *Auth
	// Status is the HTTP status the client gets. Vault's format has no field
	// for it, so it is not written; the "error" field tells a failure.
	Status   int
	Warnings []string
	// WrapInfo describes the wrapping token a wrapped response issued; nil
	// otherwise. Its token and accessors are hashed as Auth's.
	WrapInfo *WrapInfo
}

// WrapInfo is the wrap_info of a wrapped response (TTL in seconds).
type WrapInfo struct {
	Token, Accessor, CreationTime, CreationPath, WrappedAccessor string
	TTL                                                          int
}

// Sentinel errors of the package. Match them with errors.Is; never match
// error text.
var (
	// ErrAuditFailed: devices are enabled and none of them could write the
	// line, or the call was invalid. The caller must fail the request (500).
	// The error names the failed devices and what failed, never a secret.
	ErrAuditFailed = errors.New("audit: no audit device succeeded in logging")
	// ErrClosed: the device was closed.
	ErrClosed = errors.New("audit: device is closed")
	// ErrEncode: a value in the request or response data cannot be encoded
	// to JSON (a cycle, a NaN, a channel, a failing MarshalJSON, ...). The
	// error says where and of what type, never the value.
	ErrEncode = errors.New("audit: cannot encode entry")
	// ErrInvalidConfig: a FileConfig or an option of ParseOptions is invalid.
	ErrInvalidConfig = errors.New("audit: invalid device configuration")
	// ErrDeviceExists: a Broker already holds a device of that name.
	ErrDeviceExists = errors.New("audit: device already enabled")
	// ErrNoDevice: a Broker holds no device of that name.
	ErrNoDevice = errors.New("audit: no such device")
)

// DeviceError is the failure of one device. Its message names the device and
// what failed (a write error of the OS, ErrEncode, ErrClosed), never a secret.
type DeviceError struct {
	Device string
	Err    error
}

func (e *DeviceError) Error() string {
	return "audit device " + strconv.Quote(e.Device) + ": " + e.Err.Error()
}

// Unwrap returns the device's error.
func (e *DeviceError) Unwrap() error { return e.Err }

// deviceErrors is the failures of every device, joined by "; " so that the
// error stays on one line of the server log.
type deviceErrors []*DeviceError

func (es deviceErrors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns every device's error, for errors.Is and errors.As.
func (es deviceErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
