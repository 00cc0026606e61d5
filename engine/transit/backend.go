package transit

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"hash/maphash"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Options configure a Backend. The zero value is the production setting.
type Options struct {
	// Rand is the source of key material, nonces and random bytes;
	// crypto/rand.Reader when nil.
	Rand io.Reader
	// Now is the clock of creation times and auto-rotation; time.Now when nil.
	Now func() time.Time
	// AutoRotateInterval is how often Periodic looks for keys to rotate;
	// one hour (Vault's) when zero.
	AutoRotateInterval time.Duration
	// GenerateRSA makes RSA keys; rsa.GenerateKey when nil. Tests inject
	// pregenerated keys, since a 4096-bit key takes seconds.
	GenerateRSA func(random io.Reader, bits int) (*rsa.PrivateKey, error)
}

// Backend is the transit secrets engine of one mount. It is safe for
// concurrent use.
type Backend struct {
	view   *seal.View
	rand   io.Reader
	now    func() time.Time
	genRSA func(io.Reader, int) (*rsa.PrivateKey, error)
	arena  *arena

	// cache maps a key name to its *keyring.
	cache     sync.Map
	cacheLen  atomic.Int64
	cacheSize atomic.Int64 // 0: unbounded; -1: not read from storage yet
	// locks serialise the loads and writes of a key name (striped).
	locks [64]sync.Mutex
	seed  maphash.Seed

	wrapMu   sync.Mutex
	wrapping atomic.Pointer[keyring]

	rotateMu        sync.Mutex
	rotateInterval  time.Duration
	nextRotateCheck time.Time
}

var (
	_ engine.Backend = (*Backend)(nil)
	_ io.Closer      = (*Backend)(nil)
)

// Factory builds the transit backend of a mount; the server registers it
// as the "transit" mount type. It does not touch storage.
func Factory(_ *mounts.Entry, view *seal.View) (engine.Backend, error) {
	return New(view, Options{}), nil
}

var _ mounts.Factory = Factory

// New returns the backend serving the mount whose records view holds.
func New(view *seal.View, opts Options) *Backend {
	b := &Backend{
		view: view, rand: opts.Rand, now: opts.Now, genRSA: opts.GenerateRSA,
		arena: newArena(), seed: maphash.MakeSeed(), rotateInterval: opts.AutoRotateInterval,
	}
	if b.rand == nil {
		b.rand = rand.Reader
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.genRSA == nil {
		b.genRSA = rsa.GenerateKey
	}
	if b.rotateInterval <= 0 {
		b.rotateInterval = time.Hour
	}
	b.cacheSize.Store(-1)
	return b
}

// Storage layout, inside the mount's view (mirroring Vault's policy/,
// archive/ and config/ paths):
//
//	("policy", name)   the key: keysutil.Policy JSON with every available version
//	("config", "cache")  cache-config: {"size": n}
//	("config", "keys")   config/keys: {"disable_upsert": bool}
//	("wrapping_key",)    the RSA-4096 BYOK wrapping key, as a policy
func policyKey(name string) []byte { return tuple.Pack("policy", name) }

var (
	policyPrefix      = tuple.Pack("policy")
	cacheConfigKey    = tuple.Pack("config", "cache")
	keysConfigKey     = tuple.Pack("config", "keys")
	wrappingKeyRecord = tuple.Pack("wrapping_key")
)

// HandleRequest serves one request below the mount. Errors are the
// engine sentinels: ErrBadRequest for refused input (with Vault's
// message), ErrNotFound for a missing key on read paths, ErrUnsupportedPath
// and ErrUnsupportedOperation for unknown paths and methods, and
// seal.ErrSealed while the tenant is sealed.
func (b *Backend) HandleRequest(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	path := strings.Trim(req.Path, "/")
	head, rest, _ := strings.Cut(path, "/")
	switch head {
	case "encrypt":
		if !validName(rest) {
			break
		}
		return b.onlyUpdate(ctx, req, rest, b.pathEncrypt)
	case "decrypt":
		if !validName(rest) {
			break
		}
		return b.onlyUpdate(ctx, req, rest, b.pathDecrypt)
	case "rewrap":
		if !validName(rest) {
			break
		}
		return b.onlyUpdate(ctx, req, rest, b.pathRewrap)
	case "keys":
		return b.routeKeys(ctx, req, rest)
	case "datakey":
		kind, name, ok := strings.Cut(rest, "/")
		if !ok || !validName(name) || !validName(kind) {
			break
		}
		if req.Operation != engine.OpUpdate {
			return nil, engine.ErrUnsupportedOperation
		}
		return b.pathDatakey(ctx, req, kind, name)
	case "random":
		if req.Operation != engine.OpUpdate {
			return nil, engine.ErrUnsupportedOperation
		}
		return b.pathRandom(ctx, req, rest)
	case "hash":
		if strings.Contains(rest, "/") {
			break
		}
		if req.Operation != engine.OpUpdate {
			return nil, engine.ErrUnsupportedOperation
		}
		return b.pathHash(ctx, req, rest)
	case "hmac", "sign", "verify":
		name, alg, _ := strings.Cut(rest, "/")
		if !validName(name) || strings.Contains(alg, "/") {
			break
		}
		if req.Operation != engine.OpUpdate {
			return nil, engine.ErrUnsupportedOperation
		}
		switch head {
		case "hmac":
			return b.pathHMAC(ctx, req, name, alg)
		case "sign":
			return b.pathSign(ctx, req, name, alg)
		}
		return b.pathVerify(ctx, req, name, alg)
	case "export":
		parts := strings.Split(rest, "/")
		if len(parts) < 2 || len(parts) > 3 || !validName(parts[1]) {
			break
		}
		if req.Operation != engine.OpRead {
			return nil, engine.ErrUnsupportedOperation
		}
		ver := ""
		if len(parts) == 3 {
			ver = parts[2]
		}
		return b.pathExport(ctx, req, parts[0], parts[1], ver)
	case "backup":
		if !validName(rest) {
			break
		}
		if req.Operation != engine.OpRead {
			return nil, engine.ErrUnsupportedOperation
		}
		return b.pathBackup(ctx, req, rest)
	case "restore":
		if rest != "" && !validName(rest) {
			break
		}
		if req.Operation != engine.OpUpdate {
			return nil, engine.ErrUnsupportedOperation
		}
		return b.pathRestore(ctx, req, rest)
	case "wrapping_key":
		if rest != "" {
			break
		}
		if req.Operation != engine.OpRead {
			return nil, engine.ErrUnsupportedOperation
		}
		return b.pathWrappingKey(ctx, req)
	case "cache-config":
		if rest != "" {
			break
		}
		return b.pathCacheConfig(ctx, req)
	case "config":
		if rest != "keys" {
			break
		}
		return b.pathConfigKeys(ctx, req)
	}
	return nil, engine.Errorf(engine.ErrUnsupportedPath, "unsupported path")
}

func (b *Backend) onlyUpdate(ctx context.Context, req *engine.Request, name string,
	fn func(context.Context, *engine.Request, string) (*engine.Response, error)) (*engine.Response, error) {
	if req.Operation != engine.OpUpdate {
		return nil, engine.ErrUnsupportedOperation
	}
	return fn(ctx, req, name)
}

// routeKeys serves keys/ and keys/<name>[/<action>].
func (b *Backend) routeKeys(ctx context.Context, req *engine.Request, rest string) (*engine.Response, error) {
	if rest == "" {
		if req.Operation != engine.OpList {
			return nil, engine.ErrUnsupportedOperation
		}
		return b.pathListKeys(ctx, req)
	}
	name, action, _ := strings.Cut(rest, "/")
	if !validName(name) {
		return nil, engine.Errorf(engine.ErrUnsupportedPath, "unsupported path")
	}
	op := req.Operation
	switch action {
	case "":
		switch op {
		case engine.OpUpdate:
			return b.pathKeyCreate(ctx, req, name)
		case engine.OpRead:
			return b.pathKeyRead(ctx, req, name)
		case engine.OpDelete:
			return b.pathKeyDelete(ctx, req, name)
		}
	case "config":
		if op == engine.OpUpdate {
			return b.pathKeyConfig(ctx, req, name)
		}
	case "rotate":
		if op == engine.OpUpdate {
			return b.pathRotate(ctx, req, name)
		}
	case "trim":
		if op == engine.OpUpdate {
			return b.pathTrim(ctx, req, name)
		}
	case "import":
		if op == engine.OpUpdate {
			return b.pathImport(ctx, req, name)
		}
	case "import_version":
		if op == engine.OpUpdate {
			return b.pathImportVersion(ctx, req, name)
		}
	case "soft-delete":
		if op == engine.OpDelete {
			return b.pathSoftDelete(ctx, req, name, true)
		}
	case "soft-delete-restore":
		if op == engine.OpUpdate {
			return b.pathSoftDelete(ctx, req, name, false)
		}
	default:
		return nil, engine.Errorf(engine.ErrUnsupportedPath, "unsupported path")
	}
	return nil, engine.ErrUnsupportedOperation
}

// validName matches Vault's framework.GenericNameRegex: word characters,
// with '-', '.' and '@' allowed inside.
func validName(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		word := c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		inner := c == '-' || c == '.' || c == '@'
		if !word && !(inner && i > 0 && i < len(s)-1) {
			return false
		}
	}
	return true
}

// lock returns the lock of a key name.
func (b *Backend) lock(name string) *sync.Mutex {
	return &b.locks[maphash.String(b.seed, name)%uint64(len(b.locks))]
}

// acquire returns the loaded key name with a reference the caller must
// release, loading it from storage on first use; nil when the key does not
// exist. This is the request path: a cached key costs a map lookup and an
// atomic increment, and no storage access.
func (b *Backend) acquire(ctx context.Context, name string) (*keyring, error) {
	if v, ok := b.cache.Load(name); ok {
		k := v.(*keyring)
		if k.acquire() {
			k.touch(b.now().Unix())
			return k, nil
		}
	}
	return b.load(ctx, name)
}

// load returns key name acquired, from the cache or else from storage.
func (b *Backend) load(ctx context.Context, name string) (*keyring, error) {
	mu := b.lock(name)
	mu.Lock()
	defer mu.Unlock()
	if v, ok := b.cache.Load(name); ok && v.(*keyring).acquire() {
		return v.(*keyring), nil
	}
	if b.cacheSize.Load() < 0 {
		if err := b.loadCacheSize(ctx); err != nil {
			return nil, err
		}
	}
	p, err := b.readPolicy(ctx, name)
	if err != nil || p == nil {
		return nil, err
	}
	defer p.wipe()
	return b.installPolicy(name, p)
}

// readPolicy reads the stored policy of name; nil when there is none.
func (b *Backend) readPolicy(ctx context.Context, name string) (*storedPolicy, error) {
	var p *storedPolicy
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		raw, err := tx.Get(policyKey(name))
		if errors.Is(err, seal.ErrNotFound) {
			p = nil
			return nil
		}
		if err != nil {
			return err
		}
		defer clear(raw)
		p, err = decodePolicy(raw)
		return err
	})
	return p, err
}

// install puts k in the cache as name, retiring the keyring it replaces,
// and evicts the least recently used keys beyond the configured size.
// Callers hold the name's lock.
func (b *Backend) install(name string, k *keyring) {
	old, loaded := b.cache.Swap(name, k)
	if loaded {
		old.(*keyring).retire()
	} else {
		b.cacheLen.Add(1)
	}
	b.evictOver(name)
}

// drop removes name from the cache. Callers hold the name's lock.
func (b *Backend) drop(name string) {
	if old, ok := b.cache.LoadAndDelete(name); ok {
		b.cacheLen.Add(-1)
		old.(*keyring).retire()
	}
}

// evictOver evicts least recently used keys while the cache holds more
// than its configured size (cache-config; 0 is unbounded), sparing keep,
// the key just installed.
func (b *Backend) evictOver(keep string) {
	size := b.cacheSize.Load()
	for size > 0 && b.cacheLen.Load() > size {
		var victim string
		oldest := int64(1<<63 - 1)
		b.cache.Range(func(key, v any) bool {
			if t := v.(*keyring).lastUsed.Load(); t < oldest && key.(string) != keep {
				oldest, victim = t, key.(string)
			}
			return true
		})
		if victim == "" {
			return
		}
		if old, ok := b.cache.LoadAndDelete(victim); ok {
			b.cacheLen.Add(-1)
			old.(*keyring).retire()
		}
	}
}

// Invalidate drops key name from this node's cache, so that the next
// request reads it again; an empty name drops every key. The server calls
// it when another node changed a key (rotation, configuration, deletion,
// restore), as Vault's backend Invalidate does for policy/<name>.
func (b *Backend) Invalidate(name string) {
	if name == "" {
		b.Purge()
		return
	}
	mu := b.lock(name)
	mu.Lock()
	defer mu.Unlock()
	b.drop(name)
}

// Purge drops every loaded key and wipes its key bytes (at once, or when
// the requests using it finish) and forgets the cached configuration. The
// server calls it when the tenant is sealed; the backend stays usable and
// loads keys again after unseal.
func (b *Backend) Purge() {
	b.cache.Range(func(key, _ any) bool {
		name := key.(string)
		mu := b.lock(name)
		mu.Lock()
		b.drop(name)
		mu.Unlock()
		return true
	})
	b.wrapMu.Lock()
	if w := b.wrapping.Swap(nil); w != nil {
		w.retire()
	}
	b.wrapMu.Unlock()
	b.cacheSize.Store(-1)
	b.arena.trim()
}

// Close purges the backend (io.Closer, for the mount table at seal and
// unmount).
func (b *Backend) Close() error {
	b.Purge()
	return nil
}

// mutate applies fn to the stored policy of name in one storage
// transaction and installs the result in the cache. fn may run more than
// once (a retried transaction) and must depend only on the policy it is
// given and on values computed before mutate (such as new key material).
// errKeyNotFound is returned when the key does not exist. The keyring
// returned is acquired: the caller releases it.
func (b *Backend) mutate(ctx context.Context, name string, fn func(p *storedPolicy) error) (*keyring, error) {
	mu := b.lock(name)
	mu.Lock()
	defer mu.Unlock()
	var result *storedPolicy
	err := b.update(ctx, func(tx *seal.Tx) error {
		result.wipe()
		result = nil
		raw, err := tx.Get(policyKey(name))
		if errors.Is(err, seal.ErrNotFound) {
			return errKeyNotFound
		}
		if err != nil {
			return err
		}
		p, err := decodePolicy(raw)
		clear(raw)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			p.wipe()
			return err
		}
		if err := writePolicy(tx, p); err != nil {
			p.wipe()
			return err
		}
		result = p
		return nil
	})
	if err != nil {
		result.wipe()
		return nil, err
	}
	defer result.wipe()
	return b.installPolicy(name, result)
}

// installPolicy builds the keyring of p, caches it as name and returns it
// acquired by the caller. Callers hold the name's lock.
func (b *Backend) installPolicy(name string, p *storedPolicy) (*keyring, error) {
	k, err := buildKeyring(b.arena, p)
	if err != nil {
		b.drop(name)
		return nil, err
	}
	// The caller's reference is taken before the cache can evict it.
	k.refs.Add(1)
	b.install(name, k)
	return k, nil
}

// writePolicy stores p under its name.
func writePolicy(tx *seal.Tx, p *storedPolicy) error {
	// Every available version is stored with the policy, so the archive
	// bookkeeping of keysutil is always up to date.
	p.ArchiveVersion, p.ArchiveMinVersion = p.LatestVersion, p.MinAvailableVersion
	raw, err := encodePolicy(p)
	if err != nil {
		return err
	}
	defer clear(raw)
	return tx.Set(policyKey(p.Name), raw)
}

// withKey runs fn with key name acquired; notFound is the error for a
// missing key (nil for ErrNotFound).
func (b *Backend) withKey(ctx context.Context, name string, notFound error, fn func(k *keyring) (*engine.Response, error)) (*engine.Response, error) {
	k, err := b.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	if k == nil {
		if notFound == nil {
			return nil, engine.ErrNotFound
		}
		return nil, notFound
	}
	defer k.release()
	return fn(k)
}

// update runs fn in a write transaction of the mount's view and bumps the
// tenant's transit epoch in it, so every other node drops its cached keys
// (Invalidate) once it commits. Every transit write goes through it.
func (b *Backend) update(ctx context.Context, fn func(tx *seal.Tx) error) error {
	return b.view.Update(ctx, func(tx *seal.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.BumpEpoch(seal.EpochTransit)
	})
}

var _ engine.Invalidator = (*Backend)(nil)
