package kv

import (
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// paramNamesV2 is every parameter name of the KV version 2 paths: the
// field schemas of Vault's plugin (vault-plugin-secrets-kv, path_*.go),
// which include the captured "path", and this engine's request structs.
var paramNamesV2 = engine.ParamSet([]string{
	"cas", "cas_required", "custom_metadata", "data", "delete_version_after", "depth",
	"exclude_deleted", "max_versions", "options", "path", "version", "versions",
}, &dataRequest{}, &metadataRequest{}, &configRequest{}, &versionsRequest{})

// ParamNames implements engine.ParamNamer. Version 1 paths take arbitrary
// input, as Vault's, and do not implement it.
func (b *v2Backend) ParamNames() map[string]struct{} { return paramNamesV2 }

var capPath = []string{"path"}

// PathCaptures implements engine.PathCapturer: every KV version 2 path
// but config captures the secret's path (vault-plugin-secrets-kv:
// "data/" + framework.MatchAllRegex("path"), and so on).
func (b *v2Backend) PathCaptures(path string) []string {
	switch seg, _, _ := strings.Cut(path, "/"); seg {
	case "data", "metadata", "delete", "undelete", "destroy", "subkeys":
		return capPath
	}
	return nil
}
