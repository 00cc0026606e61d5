package transit

import (
	"strings"

	"github.com/strongroom/strongroom/engine"
)

// paramNames is every parameter name of the transit paths: the fields of
// the request structs, the names Vault's patterns capture from the path,
// and the field schemas of Vault's and OpenBao's transit paths
// (builtin/logical/transit/path_*.go), so that a parameter one of them
// takes is never called unknown here.
var paramNames = engine.ParamSet([]string{
	// captured from the path
	"name", "urlalgorithm", "urlbytes", "source", "plaintext", "type", "version",
	// Vault's and OpenBao's schemas
	"after", "algorithm", "allow_plaintext_backup", "allow_rotation", "associated_data",
	"auto_rotate_period", "backup", "batch_input", "bits", "bytes", "ciphertext", "context",
	"convergent_encryption", "deletion_allowed", "derived", "disable_upsert", "exportable",
	"external_key_ref", "force", "format", "hash_algorithm", "hash_function", "hmac", "input",
	"key_size", "key_version", "limit", "managed_key_id", "managed_key_name",
	"marshaling_algorithm", "min_available_version", "min_decryption_version",
	"min_encryption_version", "nonce", "padding_scheme", "partial_failure_response_code",
	"prehashed", "public_key", "salt_length", "signature", "signature_algorithm", "size",
}, &encryptRequest{}, &decryptRequest{}, &rewrapRequest{}, &datakeyRequest{}, &hmacRequest{},
	&signRequest{}, &verifyRequest{}, &randomRequest{}, &hashRequest{}, &trimRequest{},
	&restoreRequest{}, &importRequest{}, &exportRequest{}, &cacheConfigRequest{},
	&keysConfigRequest{}, &keyCreateRequest{}, &keyReadRequest{}, &listRequest{},
	&keyConfigRequest{})

// ParamNames implements engine.ParamNamer.
func (b *Backend) ParamNames() map[string]struct{} { return paramNames }

// The names Vault's transit patterns capture (builtin/logical/transit
// path_*.go: GenericNameRegex, OptionalParamRegex).
var (
	capName    = []string{"name"}
	capNameAlg = []string{"name", "urlalgorithm"}
	capDatakey = []string{"name", "plaintext"}
	capRandom  = []string{"source", "urlbytes"}
	capHash    = []string{"urlalgorithm"}
	capExport  = []string{"name", "type", "version"}
	capBYOK    = []string{"destination", "source", "version"}
)

// PathCaptures implements engine.PathCapturer.
func (b *Backend) PathCaptures(path string) []string { return captures(path) }

// captures returns the names the transit pattern serving path captures.
// sys/tools/random and sys/tools/hash have the same patterns under tools/.
func captures(path string) []string {
	seg, rest, _ := strings.Cut(path, "/")
	switch seg {
	case "keys":
		if rest == "" {
			return nil // keys/?$, the list
		}
		return capName
	case "encrypt", "decrypt", "rewrap", "backup", "derive-key", "restore":
		return capName
	case "datakey":
		return capDatakey
	case "random":
		return capRandom
	case "hash":
		return capHash
	case "hmac", "sign", "verify":
		return capNameAlg
	case "export":
		return capExport
	case "byok-export":
		return capBYOK
	}
	return nil
}

// ToolsCaptures returns the names Vault's sys/tools pattern serving path
// (below sys/tools/) captures.
func ToolsCaptures(path string) []string { return captures(path) }
