package token

import (
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// tokenutilFields are the token_* fields of sdk/helper/tokenutil, which
// Vault's token store roles and auth methods share.
var tokenutilFields = []string{"token_bound_cidrs", "token_explicit_max_ttl", "token_max_ttl",
	"token_no_default_policy", "token_num_uses", "token_period", "token_policies", "token_type",
	"token_ttl", "token_strictly_bind_ip"}

// paramNames is every parameter name of the token store's paths: the
// request structs' fields, the role name Vault's patterns capture, the
// tokenutil fields, and the field schemas of OpenBao's
// internal/vault/token_store.go, so that a read's query parameter is
// warned of only when no token store path takes it.
var paramNames = engine.ParamSet(append([]string{
	"role_name", "token", "accessor", "increment", "allowed_entity_aliases", "allowed_policies_glob",
	"disallowed_policies_glob", "bound_cidrs", "orphan", "path_suffix", "renewable",
}, tokenutilFields...), &CreateRequest{}, &roleInput{})

// ParamNames implements engine.ParamNamer.
func (b *Backend) ParamNames() map[string]struct{} { return paramNames }

var capRoleName = []string{"role_name"}

// PathCaptures implements engine.PathCapturer: roles/<role_name> and
// create/<role_name> (internal/vault/token_store.go).
func (b *Backend) PathCaptures(path string) []string {
	if rest, ok := strings.CutPrefix(path, "roles/"); ok && rest != "" {
		return capRoleName
	}
	if rest, ok := strings.CutPrefix(path, "create/"); ok && rest != "" {
		return capRoleName
	}
	return nil
}
