//go:build cgo && !nopkcs11

package hsm

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// GenerateNamedKey creates a named key: an AES-256 token key labelled label,
// with the master key's template (private, sensitive, not extractable, not
// modifiable; encrypt, decrypt, wrap and unwrap allowed; sign, verify and
// derive refused; a random 16-byte CKA_ID). WrapNamed and UnwrapNamed use
// it, and DestroyNamedKey destroys it. A label is any non-empty string
// other than Config.KeyLabel; a named key is usually one tenant's.
//
// It searches the secret keys labelled label, then checks the master key
// and calls C_GenerateKey, on the login session and serialised with
// CreateNamedKey, DestroyNamedKey, IndexNamedKeys and recovery. The search
// over a token of n objects costs time linear in n on SoftHSM2 (see
// CreateNamedKey for a label known to be new). Two processes generating
// the same label at once may both succeed; the label is then ambiguous
// (ErrDuplicateKey) until destroyed.
//
// Errors: ErrInvalid if label is empty or Config.KeyLabel; ErrDuplicateKey
// if a secret key labelled label exists; otherwise as for WrapNamed.
func (h *HSM) GenerateNamedKey(ctx context.Context, label string) error {
	const op = "generate named key"
	if err := h.checkLabel(op, label); err != nil {
		return err
	}
	err := h.doLogin(ctx, op, func(s pkcs11.SessionHandle, st *state) error {
		objs, err := h.findObjects(op, s, st.gen, secretKeyTemplate(label), 1)
		if err != nil {
			return err
		}
		if len(objs) > 0 {
			return &keyError{msg: fmt.Sprintf("hsm: %s: a secret key labelled %q exists", op, label), kind: ErrDuplicateKey}
		}
		_, err = h.generateNamed(op, s, st, label)
		return err
	})
	return namedErr(err)
}

// CreateNamedKey is GenerateNamedKey without the search for a key already
// labelled label: the caller guarantees that label is new, for instance
// because it ends in a fresh random nonce, as Strongroom's tenant key
// labels do. It makes the same key, caches its handle (the first
// WrapNamed needs no search), and runs on the login session, serialised
// as GenerateNamedKey. Its cost does not grow with the token: one
// C_GetAttributeValue on the master key (a key is generated only where the
// master key still answers, so never into a token that has vanished), then
// C_GenerateKey, which waits for searches in progress in the process (see
// the package doc).
//
// If label does exist, the token ends up with two keys labelled label:
// this HSM uses the new one while its handle stays cached, but every
// lookup (after a restart, a recovery or an eviction) fails with
// ErrDuplicateKey until DestroyNamedKey destroys both. When C_GenerateKey
// fails with a fault, it may have made the key all the same, so the retry
// after recovery searches for label first and takes the key it finds
// rather than make a second one.
//
// Errors: ErrInvalid if label is empty or Config.KeyLabel; otherwise as
// for WrapNamed.
func (h *HSM) CreateNamedKey(ctx context.Context, label string) error {
	const op = "create named key"
	if err := h.checkLabel(op, label); err != nil {
		return err
	}
	generated := false // by an earlier run of the body, which failed
	err := h.doLogin(ctx, op, func(s pkcs11.SessionHandle, st *state) error {
		if generated {
			_, err := h.lookupNamed(op, s, st, label)
			var ke *keyError
			if !errors.As(err, &ke) || ke.kind != ErrKeyNotFound {
				return err // nil: the failed call made the key, now cached
			}
		}
		called, err := h.generateNamed(op, s, st, label)
		generated = generated || called
		return err
	})
	return namedErr(err)
}

// generateNamed generates the named key label on the login session s and
// caches its handle, once the master key answered: an empty search proves
// nothing on a token that has vanished, and nothing may be generated into
// one. called reports whether C_GenerateKey was called.
func (h *HSM) generateNamed(op string, s pkcs11.SessionHandle, st *state, label string) (called bool, err error) {
	if err := h.confirmMaster(op, s, st); err != nil {
		return false, err
	}
	id := make([]byte, 16)
	if _, err := io.ReadFull(h.random, id); err != nil {
		return false, fmt.Errorf("hsm: %s: random key id: %w", op, err)
	}
	version := h.names.version()
	key, err := h.generateKey(op, s, st.gen, label, id)
	if err != nil {
		return true, err
	}
	h.names.put(st, label, key, version)
	return true, nil
}

// indexBatch is how many handles IndexNamedKeys asks C_FindObjects for at
// a time.
const indexBatch = 256

// IndexNamedKeys caches the handles of the named keys whose labels start
// with prefix (an empty prefix: every named key), so that their first
// WrapNamed or UnwrapNamed needs no search. Call it after Open, before
// requests arrive: it replaces a search per label (on SoftHSM2 each one
// visits every object of the token) by one pass over the token. It
// returns how many labels are cached for prefix when it is done.
//
// It searches the secret keys stored on the token (CKA_CLASS
// CKO_SECRET_KEY, CKA_TOKEN true): C_FindObjectsInit, C_FindObjects for up
// to 256 handles at a time, C_FindObjectsFinal. It then reads the
// CKA_LABEL, CKA_KEY_TYPE and CKA_VALUE_LEN of each key but the master
// key with one C_GetAttributeValue (which miekg/pkcs11 issues as two
// module calls: lengths, then values), and the master key's type with one
// more, as every search that may find nothing must (see the package doc).
// So for n secret keys on the token it makes 3 + ⌈n/256⌉ + n calls (one
// more for each key without CKA_VALUE_LEN, whose label is read alone). The
// search and the caching run on the login session, serialised with
// GenerateNamedKey, CreateNamedKey, DestroyNamedKey and recovery, so no
// key destroyed by this HSM can stay cached (and the cache refuses the
// result of an index that a DestroyNamedKey overtook, as for a lookup); a
// key destroyed behind the HSM's back between the search and its read is
// skipped; a context that ends stops it between two calls. With 10,000
// named keys on SoftHSM2 it takes 0.6 to 0.8 s (BenchmarkNamedKeys), most
// of it in the reads.
//
// It caches a label only if exactly one secret key carries it and that
// key is AES-256, as a lookup would: WrapNamed and UnwrapNamed of a label
// found on several keys, or on another kind of key, still search and
// report ErrDuplicateKey or ErrKeyUnsuitable. The master key's label is
// never cached. It never evicts a cached handle: a label already cached
// keeps its entry, and new ones are cached as least recently used, while
// there is room (Config.NamedKeyCache). The entries belong to the current
// state, like those of a lookup: a recovery empties the cache, and the
// keys are then looked up one by one, unless IndexNamedKeys runs again.
//
// Errors: ErrUnavailable, ErrClosed, a context error, or a *CallError.
func (h *HSM) IndexNamedKeys(ctx context.Context, prefix string) (int, error) {
	const op = "index named keys"
	var n int
	err := h.doLogin(ctx, op, func(s pkcs11.SessionHandle, st *state) error {
		n = 0
		version := h.names.version()
		objs, err := h.findObjectsBatch(op, s, st.gen, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		}, 0, indexBatch)
		if err != nil {
			return err
		}
		// The keys carrying each label with prefix, in token order. The
		// search leaves session objects out: the only ones this package
		// makes are unlabelled, and those of other applications are not
		// visible.
		type candidate struct {
			key    pkcs11.ObjectHandle
			keys   int
			usable bool // an AES-256 key
		}
		found := make(map[string]*candidate)
		var labels []string
		for _, obj := range objs {
			if obj == st.key {
				continue
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("hsm: %s: %w", op, err)
			}
			label, kt, err := h.keyLabel(op, s, st.gen, obj)
			switch {
			case staleHandle(err):
				continue // destroyed since the search, behind this HSM's back
			case err != nil:
				return err
			case label == "" || label == h.cfg.KeyLabel || !strings.HasPrefix(label, prefix):
				continue
			}
			c := found[label]
			if c == nil {
				c = &candidate{key: obj}
				found[label] = c
				labels = append(labels, label)
			}
			c.keys++
			c.usable = kt.typ == pkcs11.CKK_AES && kt.len == 32
		}
		// Only now is an empty search believed.
		if err := h.confirmMaster(op, s, st); err != nil {
			return err
		}
		entries := make([]namedEntry, 0, len(labels))
		for _, label := range labels {
			if c := found[label]; c.keys == 1 && c.usable {
				entries = append(entries, namedEntry{label: label, key: c.key})
			}
		}
		n = h.names.index(st, entries, version)
		return nil
	})
	if err != nil {
		return 0, namedErr(err)
	}
	return n, nil
}

// keyLabel reads CKA_LABEL, CKA_KEY_TYPE and CKA_VALUE_LEN of the secret
// key obj with one C_GetAttributeValue. A key without CKA_VALUE_LEN (the
// call fails, CKR_ATTRIBUTE_TYPE_INVALID on SoftHSM2) costs a second call
// for its label alone, and is reported with a zero key type.
func (h *HSM) keyLabel(op string, s pkcs11.SessionHandle, gen uint64, obj pkcs11.ObjectHandle) (string, keyType, error) {
	var attrs []*pkcs11.Attribute
	err := h.mod.call(&h.stats, op, fnGetAttributeValue, gen, func() (err error) {
		attrs, err = h.mod.ctx.GetAttributeValue(s, obj, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
		})
		return err
	})
	if err == nil {
		return string(attrs[0].Value), keyType{typ: attrUint(attrs[1]), len: attrUint(attrs[2])}, nil
	}
	var ce *CallError
	if !errors.As(err, &ce) || ce.Code != ckrAttributeTypeInvalid {
		return "", keyType{}, err
	}
	err = h.mod.call(&h.stats, op, fnGetAttributeValue, gen, func() (err error) {
		attrs, err = h.mod.ctx.GetAttributeValue(s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
		return err
	})
	if err != nil {
		return "", keyType{}, err
	}
	return string(attrs[0].Value), keyType{}, nil
}

// WrapNamed is Wrap under the named key label instead of the master key:
// same arguments, mechanism (Config.Mechanism) and blob format. The blob
// does not name its key; UnwrapNamed must be given the same label.
//
// The key's handle is cached (see the package doc, Named keys): the first
// use of a label searches the token, later ones do not. Since PKCS#11 lets
// a module reuse the handle of a destroyed object, WrapNamed checks that a
// cached handle still carries label (one C_GetAttributeValue) before it
// wraps under it, so that a blob can never end up under another tenant's
// key and outlive the destruction of its own. A cached handle that the
// token calls invalid is looked up again once, not reported.
//
// Errors: ErrInvalid (a bad label, plaintext or aad, as for Wrap);
// ErrKeyNotFound if no secret key is labelled label; ErrDuplicateKey if
// several are; ErrKeyUnsuitable if the key is not AES-256; ErrUnavailable,
// ErrClosed, a context error, or a *CallError as for Wrap. ErrKeyNotFound
// and ErrDuplicateKey always concern label: a missing or unusable master
// key (named keys are used only while it is in place) gives an error
// matching ErrUnavailable instead.
func (h *HSM) WrapNamed(ctx context.Context, label string, plaintext, aad []byte) ([]byte, error) {
	const op = "wrap named"
	if err := h.checkLabel(op, label); err != nil {
		return nil, err
	}
	out, err := h.wrap(ctx, op, h.withNamed(op, label, true), plaintext, aad)
	return out, namedErr(err)
}

// UnwrapNamed is Unwrap under the named key label: it opens blobs of
// WrapNamed with the same label and aad. Under another label it fails like
// Unwrap under another key (see Unwrap). Once the key is destroyed, it
// fails with ErrKeyNotFound, for every blob ever wrapped under it. Errors
// otherwise as for WrapNamed.
func (h *HSM) UnwrapNamed(ctx context.Context, label string, blob, aad []byte) ([]byte, error) {
	const op = "unwrap named"
	if err := h.checkLabel(op, label); err != nil {
		return nil, err
	}
	out, err := h.unwrap(ctx, op, h.withNamed(op, label, false), blob, aad)
	return out, namedErr(err)
}

// DestroyNamedKey destroys, with C_DestroyObject, every object on the token
// labelled label (the search is by CKA_LABEL only, whatever the class), and
// forgets its cached handle. The keys are gone from the token: no blob
// wrapped under them can be opened again, from any copy of the store.
//
// It is idempotent: when no object carries label it returns nil, but only
// after the master key answered, so that a token that has vanished (and
// answers searches with nothing) is reported as unavailable, not as
// shredded. It runs on the login session, serialised with
// GenerateNamedKey and recovery. If an object cannot be destroyed, the
// others still are and the first error is returned.
//
// Errors: ErrInvalid if label is empty or Config.KeyLabel (the master key
// is never destroyed); ErrUnavailable, ErrClosed, a context error, or a
// *CallError.
func (h *HSM) DestroyNamedKey(ctx context.Context, label string) error {
	const op = "destroy named key"
	if err := h.checkLabel(op, label); err != nil {
		return err
	}
	err := h.doLogin(ctx, op, func(s pkcs11.SessionHandle, st *state) error {
		// Dropped after the objects are gone, so that no lookup that saw
		// them stays cached.
		defer h.names.drop(label)
		objs, err := h.findObjects(op, s, st.gen, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)}, 0)
		if err != nil {
			return err
		}
		if len(objs) == 0 {
			return h.confirmMaster(op, s, st)
		}
		var first error
		for _, obj := range objs {
			err := h.destroy(op, s, st.gen, obj)
			if err == nil {
				continue
			}
			if faultLevelOf(err) != faultNone {
				return err // do recovers and searches again
			}
			if first == nil {
				first = err
			}
		}
		return first
	})
	return namedErr(err)
}

// checkLabel refuses an empty label and the master key's.
func (h *HSM) checkLabel(op, label string) error {
	switch label {
	case "":
		return fmt.Errorf("hsm: %s: empty key label: %w", op, ErrInvalid)
	case h.cfg.KeyLabel:
		return fmt.Errorf("hsm: %s: %q is the master key's label: %w", op, label, ErrInvalid)
	}
	return nil
}

// withNamed returns the withKey of the named key label: its cached handle,
// or the one a search on the operation's session finds. A cached handle
// that the token calls invalid (staleHandle) is forgotten and the key
// looked up again, once. If check is true (wraps), a cached handle is used
// only if it still carries label.
func (h *HSM) withNamed(op, label string, check bool) withKey {
	return func(s pkcs11.SessionHandle, st *state, f func(pkcs11.ObjectHandle) error) error {
		key, cached := h.names.get(st, label)
		if cached && check {
			ok, err := h.hasLabel(op, s, st.gen, key, label)
			if err != nil && !staleHandle(err) {
				return err
			}
			if err != nil || !ok {
				h.names.forget(label, key)
				cached = false
			}
		}
		if !cached {
			var err error
			if key, err = h.lookupNamed(op, s, st, label); err != nil {
				return err
			}
		}
		err := f(key)
		if cached && staleHandle(err) {
			h.names.forget(label, key)
			if key, err = h.lookupNamed(op, s, st, label); err != nil {
				return err
			}
			err = f(key)
		}
		return err
	}
}

// lookupNamed searches session s for the secret key labelled label, checks
// that it is the only one and an AES-256 key, and caches its handle. A
// search that finds nothing is believed only once the master key answered
// (see confirmMaster).
func (h *HSM) lookupNamed(op string, s pkcs11.SessionHandle, st *state, label string) (pkcs11.ObjectHandle, error) {
	version := h.names.version()
	objs, err := h.findObjects(op, s, st.gen, secretKeyTemplate(label), 2)
	switch {
	case err != nil:
		return 0, err
	case len(objs) == 0:
		if err := h.confirmMaster(op, s, st); err != nil {
			return 0, err
		}
		return 0, &keyError{msg: fmt.Sprintf("hsm: %s: no secret key labelled %q", op, label), kind: ErrKeyNotFound}
	case len(objs) > 1:
		return 0, &keyError{msg: fmt.Sprintf("hsm: %s: more than one secret key labelled %q", op, label), kind: ErrDuplicateKey}
	}
	kt, err := h.keyType(op, s, st.gen, objs[0])
	if err != nil {
		return 0, err
	}
	if kt.typ != pkcs11.CKK_AES || kt.len != 32 {
		return 0, &keyError{
			msg:  fmt.Sprintf("hsm: %s: key %q has CKA_KEY_TYPE 0x%X and CKA_VALUE_LEN %d, not AES-256", op, label, kt.typ, kt.len),
			kind: ErrKeyUnsuitable,
		}
	}
	h.names.put(st, label, objs[0], version)
	return objs[0], nil
}

// confirmMaster reads the master key's type on s (one C_GetAttributeValue,
// as Ping does). SoftHSM2 answers searches on a token whose directory has
// vanished with no result, but calls on a handle found before fail with
// CKR_OBJECT_HANDLE_INVALID, a fault: so a search that found no named key
// is believed only after confirmMaster succeeded in the same state.
func (h *HSM) confirmMaster(op string, s pkcs11.SessionHandle, st *state) error {
	_, err := h.keyType(op, s, st.gen, st.key)
	return err
}

// hasLabel reports whether obj carries CKA_LABEL label.
func (h *HSM) hasLabel(op string, s pkcs11.SessionHandle, gen uint64, obj pkcs11.ObjectHandle, label string) (bool, error) {
	var attrs []*pkcs11.Attribute
	err := h.mod.call(&h.stats, op, fnGetAttributeValue, gen, func() (err error) {
		attrs, err = h.mod.ctx.GetAttributeValue(s, obj, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
		return err
	})
	if err != nil {
		return false, err
	}
	return string(attrs[0].Value) == label, nil
}

// staleHandle reports whether err is a call that refused a key handle as
// invalid: CKR_OBJECT_HANDLE_INVALID or CKR_KEY_HANDLE_INVALID (C_EncryptInit,
// C_DecryptInit, C_GetAttributeValue), CKR_WRAPPING_KEY_HANDLE_INVALID
// (C_WrapKey) or CKR_UNWRAPPING_KEY_HANDLE_INVALID (C_UnwrapKey).
func staleHandle(err error) bool {
	var ce *CallError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Code {
	case ckrObjectHandleInvalid, ckrKeyHandleInvalid, ckrWrappingKeyHandleInv, ckrUnwrappingKeyHandleInv:
		return true
	}
	return false
}

// keyError is an error about a named key: missing, ambiguous or unsuitable.
// It matches kind without quoting its text, which speaks of the master key.
type keyError struct {
	msg  string
	kind error
}

func (e *keyError) Error() string { return e.msg }
func (e *keyError) Unwrap() error { return e.kind }

// namedErr returns err, the result of a named-key operation, unless it is
// about the master key (the HSM is not ready without it): such an error
// would match ErrKeyNotFound, ErrDuplicateKey or ErrKeyUnsuitable and read
// as news about the named key, so it is wrapped into a masterKeyError.
func namedErr(err error) error {
	if err == nil {
		return nil
	}
	var ke *keyError
	if errors.As(err, &ke) {
		return err
	}
	if errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrDuplicateKey) || errors.Is(err, ErrKeyUnsuitable) {
		return &masterKeyError{err: err}
	}
	return err
}

// masterKeyError is a problem with the master key met by a named-key
// operation. It matches ErrUnavailable, and the *CallError in err if there
// is one, but none of the key sentinels that err matches.
type masterKeyError struct{ err error }

func (e *masterKeyError) Error() string {
	return e.err.Error() + " (named keys are used only while the master key is in place)"
}

func (e *masterKeyError) Unwrap() []error {
	out := []error{ErrUnavailable}
	var ce *CallError
	if errors.As(e.err, &ce) {
		out = append(out, ce)
	}
	return out
}

// namedCache maps the labels of named keys to their handles. Object handles
// are valid only in the module generation that gave them out, and recovery
// looks the master key up again whenever it rebuilds the state, so the
// cache holds the handles of one state (generation and epoch): get never
// returns a handle of another state, and the first put of a newer state
// empties the cache. It keeps at most limit entries, dropping the least
// recently used. The zero value is an empty cache of DefaultNamedKeyCache
// entries. It is safe for concurrent use.
type namedCache struct {
	mu      sync.Mutex
	gen     uint64
	epoch   uint64
	drops   uint64 // counts drop calls; see put
	limit   int    // 0: DefaultNamedKeyCache
	byLabel map[string]*list.Element
	lru     list.List // of *namedEntry, most recently used first
}

type namedEntry struct {
	label string
	key   pkcs11.ObjectHandle
}

// get returns the handle cached for label in state st.
func (c *namedCache) get(st *state, label string) (pkcs11.ObjectHandle, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != st.gen || c.epoch != st.epoch {
		return 0, false
	}
	e, ok := c.byLabel[label]
	if !ok {
		return 0, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*namedEntry).key, true
}

// version returns a value to pass to put: take it before the search whose
// result put stores.
func (c *namedCache) version() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drops
}

// put caches key for label in state st, unless drop was called since
// version was taken (the key may have been destroyed after the search saw
// it) or the cache already holds a newer state.
func (c *namedCache) put(st *state, label string, key pkcs11.ObjectHandle, version uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.admitLocked(st, version) {
		return
	}
	if e, ok := c.byLabel[label]; ok {
		e.Value.(*namedEntry).key = key
		c.lru.MoveToFront(e)
		return
	}
	c.byLabel[label] = c.lru.PushFront(&namedEntry{label: label, key: key})
	for c.lru.Len() > c.capacity() {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.byLabel, old.Value.(*namedEntry).label)
	}
}

// index caches the handles of entries, in state st, as put does for one
// (refusing them all if drop was called since version was taken), except
// that it never evicts: a label already cached keeps its entry and its
// place, and new labels are added as least recently used, in order, as
// long as there is room. It returns how many labels of entries are
// cached.
func (c *namedCache) index(st *state, entries []namedEntry, version uint64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.admitLocked(st, version) {
		return 0
	}
	n := 0
	for _, e := range entries {
		if _, ok := c.byLabel[e.label]; !ok {
			if c.lru.Len() >= c.capacity() {
				continue
			}
			c.byLabel[e.label] = c.lru.PushBack(&namedEntry{label: e.label, key: e.key})
		}
		n++
	}
	return n
}

// admitLocked reports whether results of state st, from a search that
// began when version was taken, may be stored (see put), and empties the
// cache first if st is newer than the state it holds.
func (c *namedCache) admitLocked(st *state, version uint64) bool {
	switch {
	case version != c.drops:
		return false
	case st.gen < c.gen || st.gen == c.gen && st.epoch < c.epoch:
		return false
	case st.gen != c.gen || st.epoch != c.epoch || c.byLabel == nil:
		c.clearLocked()
		c.gen, c.epoch = st.gen, st.epoch
	}
	return true
}

// capacity returns the maximum number of entries.
func (c *namedCache) capacity() int {
	if c.limit <= 0 {
		return DefaultNamedKeyCache
	}
	return c.limit
}

// forget removes label's entry if it still holds key (a handle found
// stale; another goroutine may have cached a fresh one meanwhile).
func (c *namedCache) forget(label string, key pkcs11.ObjectHandle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byLabel[label]; ok && e.Value.(*namedEntry).key == key {
		c.lru.Remove(e)
		delete(c.byLabel, label)
	}
}

// drop removes label's entry and keeps searches that began before from
// storing their result (see put).
func (c *namedCache) drop(label string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drops++
	if e, ok := c.byLabel[label]; ok {
		c.lru.Remove(e)
		delete(c.byLabel, label)
	}
}

// reset empties the cache.
func (c *namedCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

// len returns the number of cached handles.
func (c *namedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *namedCache) clearLocked() {
	c.byLabel = make(map[string]*list.Element)
	c.lru.Init()
}
