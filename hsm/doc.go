// Package hsm talks to a PKCS#11 token that holds Strongroom's master key:
// an AES-256 secret key, sensitive and not extractable, found by its label;
// and, optionally, named keys of the same kind, one per tenant.
// The package wraps and unwraps root keys with it (the seal package consumes
// the two-method [Wrapper] interface only), looks the key up, generates it
// when told to at operator init, reports health ([HSM.Ping]) and counts every
// PKCS#11 call ([HSM.Stats]). It is used at unseal, when a keyring is loaded
// and at rotation, never on the request path.
//
// # Why miekg/pkcs11 and not crypto11
//
// The package calls github.com/miekg/pkcs11, a thin cgo binding of the
// PKCS#11 functions, directly. ThalesGroup/crypto11 sits on top of it and
// would save code, but it does not fit a server that must outlive token
// faults: its cipher.AEAD adapter panics when the token returns an error,
// its decryption errors are flattened into strings (no CK_RV to act on),
// and a session that failed goes back into its pool and fails the next
// caller too. Here every error keeps the function name and CK_RV
// ([CallError]), and a session is discarded after any error.
//
// # Mechanisms and blobs
//
// The default is CKM_AES_GCM, as in Vault's pkcs11 seal: it is
// authenticated, and its associated data binds a blob to its purpose (the
// seal package passes the tenant and the key's role), so a wrapped root key
// copied to another tenant does not unwrap. SoftHSM2 never generates a GCM
// IV (given none, it silently uses an empty IV and the same plaintext
// always gives the same ciphertext), so this package draws a random 96-bit
// IV for each Wrap and always asks for 128-bit tags.
//
// CKM_AES_KEY_WRAP_PAD (RFC 5649) is available for tokens without GCM. It is
// deterministic and has no associated data: Wrap refuses a non-empty aad with
// ErrInvalid rather than silently drop it, and Unwrap refuses aad with a KWP
// blob, so a caller that relies on aad binding cannot be downgraded to KWP.
// SoftHSM2 offers it only through C_WrapKey/C_UnwrapKey (C_EncryptInit
// answers CKR_MECHANISM_INVALID), so the key material passes through a
// transient session object: private, extractable, with no usage allowed,
// destroyed right after (sensitive too when it is the input of a wrap;
// readable when it is the output of an unwrap, whose template leaves
// CKA_VALUE_LEN to the blob).
//
// Plaintexts are 16 or 32 bytes of key material, for both mechanisms. A blob
// is version (1) ‖ mechanism (1 = GCM, 2 = KWP) ‖ body; for GCM the body is
// iv ‖ ciphertext ‖ tag and the associated data is the two header bytes
// followed by the caller's aad. Unwrap follows the mechanism byte of the
// blob, whatever Config.Mechanism says.
//
// # Named keys
//
// Besides the master key, the token can hold named keys: AES-256 keys with
// the master key's template, one per tenant, labelled by the caller
// ([HSM.GenerateNamedKey], or [HSM.CreateNamedKey] for a label known to be
// new). [HSM.WrapNamed] and [HSM.UnwrapNamed] are Wrap and Unwrap under
// such a key, with the same mechanisms and blob format; a blob does not
// name its key, so UnwrapNamed is given the label. Since a
// named key never leaves the token, [HSM.DestroyNamedKey] (C_DestroyObject)
// makes every blob wrapped under it unreadable, including the copies in
// backups of the store made before: deleting a tenant shreds its keys.
//
// Named keys are found by label with a search, and their handles cached,
// at most Config.NamedKeyCache ([DefaultNamedKeyCache], 100,000), least
// recently used out first. Handles belong to one module generation, and
// the cache to one state: a recovery empties it, as it looks the master
// key up again. A cached handle that the token calls invalid (the key was
// destroyed or replaced behind the HSM's back) is looked up again once, not
// reported; WrapNamed also checks that a cached handle still carries its
// label, since PKCS#11 lets a module reuse the handle of a destroyed
// object. SoftHSM2 (file backend) visits every object
// of the token in a search, about 16 µs each, so the first use of a label,
// GenerateNamedKey and DestroyNamedKey cost time linear in the number of
// objects on the token. Two operations avoid searches:
// [HSM.IndexNamedKeys], called once after Open, caches the handles of
// every named key under a label prefix from a single pass over the token
// (one search, then one C_GetAttributeValue per key), so that no tenant's
// first request after a restart searches; and CreateNamedKey makes a key
// without the search for a duplicate that GenerateNamedKey does, for
// callers whose labels are new by construction (a random nonce). With
// 10,000 named keys, measured by BenchmarkNamedKeys: UnwrapNamed 160 ms
// cold, 40 µs with the handle cached, 145 µs for the first one after a
// restart and IndexNamedKeys (its pooled session included);
// IndexNamedKeys 0.6 to 0.8 s (about 45 µs per key for the attribute
// read, on top of the search); GenerateNamedKey 170 ms; CreateNamedKey 5
// to 10 ms; DestroyNamedKey 240 ms.
//
// Named-key operations need the master key: the HSM is ready only when it
// is found. A search that finds no named key is believed only after the
// master key answered in the same state, because SoftHSM2 answers searches
// on a vanished token with no results: so ErrKeyNotFound from UnwrapNamed,
// or nil from DestroyNamedKey for a label with no key, is news about the
// token, not about its absence. A missing or ambiguous master key gives
// named-key operations an error matching ErrUnavailable, never
// ErrKeyNotFound or ErrDuplicateKey, which they reserve for the named key.
//
// GenerateNamedKey, CreateNamedKey, DestroyNamedKey and IndexNamedKeys run
// on the login session, serialised with each other and with recovery (an
// index of 10,000 keys holds them back for its duration; WrapNamed and
// UnwrapNamed go on meanwhile). C_GenerateKey waits for searches in
// progress in the process and holds new ones back: SoftHSM2 up to 2.6.1
// fails about one token-object creation in five with CKR_GENERAL_ERROR when
// another thread searches at the same time (SoftHSMv2 issue #573).
//
// # Sessions and login
//
// Open initializes the module, finds the token by slot id or label, opens a
// read-write session and logs in once. That login session stays open until
// Close: closing the last session of an application logs it out. Operations
// run on read-only sessions from a pool sized from the token's
// ulMaxSessionCount (minus the login session), capped at
// [DefaultMaxSessions] when the token reports no limit, as SoftHSM2 does
// (CK_EFFECTIVELY_INFINITE). A caller waits for a free session as long as
// its context allows. A session is used by one goroutine at a time and is
// closed, not reused, after any error, so leftovers such as an operation
// still active (CKR_OPERATION_ACTIVE) never reach the next caller.
//
// # Faults and recovery
//
// A call that fails with a stale session, login or handle
// (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN,
// CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID) or with a device fault
// (CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
// CKR_TOKEN_NOT_RECOGNIZED, CKR_CRYPTOKI_NOT_INITIALIZED) marks the HSM's
// handles stale. The same operation then recovers and retries once:
// pooled sessions are dropped, the login session is checked and replaced
// (and C_Login called again) if it is gone, and the key is found again by
// label. If that fails, or for a device fault, or when a key that was
// there is no longer found, the module is finalized and initialized again
// (C_Finalize, C_Initialize, slot, login session, C_Login, key). If recovery
// fails, the operation fails fast with an error matching [ErrUnavailable]
// that names the call and CK_RV, and the next operation tries again: once
// the token is back, service resumes without a restart. Recovery is
// serialized; for [RetryInterval] after an attempt failed, Wrap, Unwrap and
// Ping return its error again without probing the token, so a dead token is
// probed about once a second however many requests arrive (FindKey and
// EnsureKey always probe).
//
// Every PKCS#11 call holds a read lock of its module, and C_Finalize and
// C_Initialize the write lock, because finalizing while another thread is
// inside the module crashes some modules. Handles carry the generation of
// the C_Initialize that made them, and a handle of an older generation is
// never passed to the module: after re-initialization, modules reuse the
// same small handle numbers for new sessions. A PKCS#11 call cannot be
// interrupted: a context bounds the wait for a session or for recovery, not
// a call that hangs inside the module.
//
// What SoftHSM2 2.6.1 does, measured (fault_test.go replays each case):
//   - token directory moved away: C_FindObjects succeeds with no result,
//     C_GetTokenInfo fails with CKR_GENERAL_ERROR, C_EncryptInit,
//     C_DecryptInit and C_GetAttributeValue on the cached key handle fail
//     with CKR_OBJECT_HANDLE_INVALID; C_OpenSession still succeeds and
//     C_Login answers CKR_USER_ALREADY_LOGGED_IN. Moving the directory back
//     does not heal the running module (searches stay empty, the handle
//     stays invalid): only C_Finalize + C_Initialize does, and C_Initialize
//     fails with CKR_GENERAL_ERROR while the directory is missing. So a key
//     that vanishes is treated as a fault, never as "key missing, generate
//     one", and FindKey and EnsureKey answer ErrUnavailable meanwhile.
//   - only the token's own directory (tokens/<uuid>) moved away: the same,
//     except that C_Initialize succeeds and the token is missing from the
//     slot list (ErrTokenNotFound and ErrUnavailable) until the directory is
//     back and C_Initialize runs once more.
//   - module finalized behind the package's back: CKR_CRYPTOKI_NOT_INITIALIZED,
//     healed by C_Initialize.
//   - sessions closed behind the pool's back (C_CloseAllSessions): the next
//     call fails with CKR_SESSION_HANDLE_INVALID, the login is gone, and a
//     new session and C_Login restore service without re-initialization.
//   - a failed GCM tag check (flipped bit, other aad, other key):
//     C_Decrypt returns CKR_GENERAL_ERROR, not CKR_ENCRYPTED_DATA_INVALID as
//     PKCS#11 specifies, so it is not mapped to [ErrUnwrap] and triggers no
//     recovery; see [HSM.Unwrap].
//
// # One module per process
//
// A PKCS#11 module is process-global. The package keeps one module per
// library path, initializes it at the first Open and finalizes it when the
// last HSM using it is closed; the library stays loaded. Several HSMs may
// share a module (and a token, sharing its login state); a
// re-initialization by one recovers the others on their next call. The
// package assumes it is the only user of the module in the process. SoftHSM2
// reads SOFTHSM2_CONF at C_Initialize only: set it before the first Open,
// and close every HSM before switching to another configuration (see package
// softhsm).
//
// # Secrets
//
// The PIN is kept in memory to log in again after a fault. It never appears
// in an error, and Config's String, GoString and LogValue redact it.
// Unwrapped key material is returned to the caller, who owns and clears it;
// miekg/pkcs11 frees its C copies without wiping them.
//
// # Build
//
// The implementation needs cgo and builds with `cgo && !nopkcs11`. Without
// cgo, or with the nopkcs11 tag, Open fails with an error matching
// [ErrLibrary] and errors.ErrUnsupported.
package hsm
