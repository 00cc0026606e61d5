package httpapi

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// Vault serves most sys/ paths with its system backend, an sdk/framework
// backend: a read's query parameters are its data (http/logical.go,
// buildLogicalRequestNoAuth), checked against the path's Fields like a
// body, and a response with data warns of the names the path does not
// take, then of those its pattern captures from the path
// (sdk/framework/backend.go HandleRequest). The paths Vault serves with
// HTTP handlers of their own (sys/health, sys/seal-status, sys/leader,
// sys/init, sys/generate-root, sys/rekey, sys/metrics, snapshots) check
// nothing, and neither does a LIST, whose query Strongroom does not read.

// sysPath is one system-backend path that answers a read: exact, or
// prefix, a captured segment, then suffix.
// The field lists are those of OpenBao's internal/vault/logical_system*.go,
// which keep Vault's.
type sysPath struct {
	exact   string
	prefix  string
	suffix  string
	capture string
	fields  map[string]struct{}
}

func fieldSet(names ...string) map[string]struct{} { return engine.ParamSet(names) }

var (
	policyFields = []string{"name", "policy", "expiration", "ttl", "cas", "cas_required",
		"allow_wildcards_in_identity_templates", "allow_slashes_in_identity_templates"}
	mountFields = []string{"path", "type", "description", "config", "local", "seal_wrap",
		"external_entropy_access", "plugin_name", "options", "plugin_version"}
	tuneFields = []string{"path", "default_lease_ttl", "max_lease_ttl", "description",
		"audit_non_hmac_request_keys", "audit_non_hmac_response_keys", "options", "listing_visibility",
		"passthrough_request_headers", "allowed_response_headers", "token_type", "user_lockout_config",
		"plugin_version"}
)

// sysReadPaths are tried in order, as the framework tries its patterns:
// a tune path before the mount path that would also match it.
var sysReadPaths = []sysPath{
	{exact: "sys/policy", fields: fieldSet()},
	{exact: "sys/policy/", fields: fieldSet()},
	{prefix: "sys/policy/", capture: "name", fields: fieldSet(append([]string{"rules"}, policyFields...)...)},
	{exact: "sys/policies/acl", fields: fieldSet()},
	{exact: "sys/policies/acl/", fields: fieldSet()},
	{prefix: "sys/policies/acl/", capture: "name", fields: fieldSet(policyFields...)},
	{exact: "sys/mounts", fields: fieldSet()},
	{prefix: "sys/mounts/", suffix: "/tune", capture: "path", fields: fieldSet(tuneFields...)},
	{prefix: "sys/mounts/", capture: "path", fields: fieldSet(mountFields...)},
	{exact: "sys/auth", fields: fieldSet()},
	{prefix: "sys/auth/", suffix: "/tune", capture: "path", fields: fieldSet(tuneFields...)},
	{prefix: "sys/auth/", capture: "path", fields: fieldSet(mountFields...)},
	{exact: "sys/audit", fields: fieldSet()},
	{exact: "sys/key-status", fields: fieldSet()},
	{exact: "sys/internal/ui/mounts", fields: fieldSet()},
	{prefix: "sys/internal/ui/mounts/", capture: "path", fields: fieldSet("path")},
	{prefix: "sys/namespaces/", capture: "path", fields: fieldSet("path", "custom_metadata", "seal", "pgp_keys")},
	{prefix: "sys/remount/status/", capture: "migration_id", fields: fieldSet("migration_id")},
}

// match reports whether p serves path.
func (p *sysPath) match(path string) bool {
	if p.exact != "" {
		return path == p.exact
	}
	rest, ok := strings.CutPrefix(path, p.prefix)
	if !ok {
		return false
	}
	if p.suffix != "" {
		rest, ok = strings.CutSuffix(rest, p.suffix)
	}
	return ok && rest != ""
}

// sysQueryWarnings returns the warnings Vault's framework gives a read of
// the sys/ path with query q: the parameters the path ignores, then those
// its path overrides. It returns nothing for a path no system-backend
// read serves.
func sysQueryWarnings(path string, q url.Values) []string {
	if len(q) == 0 {
		return nil
	}
	i := slices.IndexFunc(sysReadPaths, func(p sysPath) bool { return p.match(path) })
	if i < 0 {
		return nil
	}
	p := &sysReadPaths[i]
	var out []string
	if ignored := engine.IgnoredQuery(q, p.fields); len(ignored) > 0 {
		out = append(out, engine.IgnoredWarning(ignored))
	}
	if _, ok := q[p.capture]; ok && p.capture != "" {
		out = append(out, fmt.Sprintf("Endpoint replaced the value of these parameters with the values captured from the endpoint's path: %v", []string{p.capture}))
	}
	return out
}
