// Package transit is Strongroom's transit secrets engine: encryption as a
// service over named, versioned keys, speaking Vault's transit API
// (OpenBao's builtin/logical/transit and sdk/helper/keysutil) so that the
// vault CLI and Vault clients work unchanged. Each path_*.go file serves
// one API path and names the Vault behaviour it follows.
//
// # Paths
//
//	keys/                       LIST (after, limit)
//	keys/<name>                 POST create, GET describe, DELETE
//	keys/<name>/config|rotate|trim|import|import_version
//	keys/<name>/soft-delete (DELETE), soft-delete-restore (POST)   OpenBao
//	encrypt|decrypt|rewrap/<name>
//	datakey/plaintext|wrapped/<name>
//	hmac|sign|verify/<name>[/<hash algorithm>]
//	hash[/<algorithm>], random[/<source>][/<bytes>] (or random/<bytes>/<format>)
//	export/<encryption-key|signing-key|hmac-key|public-key>/<name>[/<version>]
//	backup/<name>, restore[/<name>], wrapping_key, cache-config, config/keys
//
// Key types: aes128-gcm96, aes256-gcm96 (default), chacha20-poly1305,
// xchacha20-poly1305, ed25519, ecdsa-p256/p384/p521, rsa-2048/3072/4096 and
// hmac.
//
// # Formats
//
// Formats are Vault's, byte for byte. A ciphertext is "vault:v<N>:"
// followed by the standard base64 of nonce ‖ ciphertext ‖ tag (a 12-byte
// nonce for AES-GCM and ChaCha20-Poly1305, 24 bytes for XChaCha20-Poly1305)
// or of the RSA-OAEP-SHA256 ciphertext. Derived keys are HKDF-SHA256 of the
// version's key with no salt and the context as info (keysutil
// Kdf_hkdf_sha256; the legacy counter-mode KDF is read too). Convergent
// encryption uses keysutil's version 3 scheme: the nonce is the first bytes
// of HMAC-SHA256 of the plaintext under the 32 derived bytes that follow
// the encryption key. Signatures and HMACs are "vault:v<N>:" and base64.
// A backup is the base64 of keysutil's KeyData JSON (see path_backup.go),
// so backups move between Vault, OpenBao and Strongroom.
//
// # Decryption does not tell keys apart
//
// decrypt and rewrap answer one message, "cipher: message authentication
// failed" (400), when the key does not exist, when the ciphertext was made
// under another key, was tampered with or truncated, or names a version
// the key does not hold. The syntax of a request (context and associated
// data base64, and the ciphertext's prefix, fields, version number and
// base64) is checked before the key is looked at, and its refusals are the
// same whether the key exists or not, so a caller cannot
// learn from decrypt whether a key name exists. Refusals that need the
// key's configuration keep Vault's messages and do reveal that the key
// exists to a caller allowed to use it: "too old" for a version below
// min_decryption_version, a missing context for a derived key, an
// operation the key type does not support, a soft-deleted key. A missing
// key is read from storage on every request (there is no negative cache),
// so it may answer more slowly than a loaded one. Other paths (encrypt,
// sign, hmac, keys/...) keep Vault's "not found" answers.
//
// # Requests
//
// Bodies are decoded into typed structs. Like Vault's framework they
// accept strings for numbers and booleans (the CLI's key=value), and a
// batch_input given as a string holding the JSON list. A batch holds at
// most MaxBatchItems (10,000) items. Batch status codes follow Vault:
// encrypt and decrypt answer 400 with batch_results when any item was
// refused (or partial_failure_response_code if given and one item
// succeeded); rewrap, sign, verify and hmac answer 200 with per-item
// errors.
//
// # Storage
//
// A key is one record, ("policy", name), in the mount's barrier-encrypted
// view: keysutil's Policy JSON holding every available version. Vault keeps
// versions below min_decryption_version in a separate archive record; here
// they stay in the one record, and a backup lays them out as Vault's
// archive. Key material for new versions (seconds for RSA-4096) is made
// before the storage transaction, which may then be retried safely. Every
// change rewrites the record, which must fit one transaction (10 MB): some
// 1,500 versions of an RSA-4096 key, or 50,000 of an AES key.
//
// # Keys in memory
//
// A key is read from storage on first use and then served from memory
// until it changes: an encrypt or decrypt of a loaded key makes no storage
// access. The loaded form (keyring) holds the versions from
// min_decryption_version up; the raw key bytes live in memguard locked
// buffers, packed into 64 KiB slabs (see arena), and the objects built from
// them are cached: the AEAD of a non-derived key (whose key schedule, as
// any Go cipher's, is in the Go heap), and the signers of asymmetric keys
// (crypto/ecdsa, crypto/rsa and crypto/ed25519 work on heap objects).
// A change made through this backend (rotate, config, trim, delete,
// restore, import, backup's backup_info) replaces the loaded key at once.
// Keyrings are reference counted, so a replaced or evicted key is wiped
// when the last request using it finishes. cache-config bounds the number
// of loaded keys (least recently used eviction); 0 keeps every key used.
// 10,000 loaded AES-256 keys take about 17 MB of heap and 0.6 MB of
// locked memory. memguard panics (and wipes every buffer of the process)
// when mlock fails, so RLIMIT_MEMLOCK must allow the slabs: 64 KiB per
// 1,024 loaded symmetric versions.
//
// The server owes the backend three calls, as a Vault core does:
//   - Purge (or Close) when the tenant is sealed or the mount is removed:
//     it wipes every loaded key. Periodic also purges when it finds the
//     tenant sealed.
//   - Invalidate(name) when another node changed a key, within the
//     cluster's one-second cache rule; Invalidate("") drops every key.
//   - Periodic(ctx, now) every minute or so: it runs auto-rotation, which
//     looks at the keys once per Options.AutoRotateInterval (an hour).
//
// # Differences from Vault
//
//   - decrypt answers as described above instead of "encryption key not
//     found" and "invalid ciphertext: version is too new"; RSA decryption
//     failures are that 400 instead of a 500. A negative version is a
//     malformed ciphertext (Vault: "too old"), and syntax is checked before
//     the version bounds (Vault reports "too old" before bad base64).
//   - Refusals Vault answers with 500 (a malformed batch_input, backup of
//     a missing or non-exportable key, restore over an existing key, import
//     over an existing key, rotation of an imported key) are 400 here.
//   - An hmac key created without key_size gets 32 bytes (Vault refuses).
//   - HMAC with hash "none" is refused (Vault fails internally).
//   - rewrap also takes associated_data.
//   - import refuses ciphertext and public_key together (Vault's check
//     never fires), and parses PKCS #8 keys with the standard library only
//     (not keysutil's fallbacks for NSS Ed25519 and RSA-PSS OIDs).
//   - Backups are written with OpenBao's type numbers (hmac 10,
//     xchacha20-poly1305 11); both OpenBao's and HashiCorp Vault's (hmac
//     11, managed key 10) are read, told apart by key_size.
//   - Convergent keys of the schemes before version 3 (Vault 0.6) are
//     refused, as OpenBao does; HashiCorp Vault still decrypts them.
//   - Not implemented: derive-key (ECDH), byok-export, certificate chains
//     and CSRs, CMAC, external and managed keys, Ed25519ph and
//     signature_context, padding schemes for RSA encryption.
package transit
