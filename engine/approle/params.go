package approle

import (
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// paramNames is every parameter name of the AppRole paths: the request
// structs' fields, the role name Vault's patterns capture, and the field
// schemas of OpenBao's internal/builtin/credential/approle/path_*.go
// (with sdk/helper/tokenutil's token_* fields), so that a read's query
// parameter is warned of only when no AppRole path takes it.
var paramNames = engine.ParamSet([]string{
	"role_name", "after", "limit", "bind_secret_id", "bound_cidr_list", "cidr_list",
	"local_secret_ids", "metadata", "num_uses", "period", "policies", "role_id", "secret_id",
	"secret_id_accessor", "secret_id_bound_cidrs", "secret_id_num_uses", "secret_id_ttl", "ttl",
	"token_bound_cidrs", "token_explicit_max_ttl", "token_max_ttl", "token_no_default_policy",
	"token_num_uses", "token_period", "token_policies", "token_strictly_bind_ip", "token_ttl",
	"token_type",
}, &roleInput{}, &accessorInput{})

// ParamNames implements engine.ParamNamer.
func (b *Backend) ParamNames() map[string]struct{} { return paramNames }

var capRoleName = []string{"role_name"}

// PathCaptures implements engine.PathCapturer: every role/<role_name>
// path (path_role.go).
func (b *Backend) PathCaptures(path string) []string {
	if rest, ok := strings.CutPrefix(path, "role/"); ok && strings.Trim(rest, "/") != "" {
		return capRoleName
	}
	return nil
}
