//go:build cgo && !nopkcs11

package hsm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
)

// HSM is an open PKCS#11 token holding the master key, and perhaps named
// keys. It is safe for concurrent use. Wrap, Unwrap, WrapNamed, UnwrapNamed
// and Ping take a session from a bounded pool, so at most Stats().PoolSize
// of them run in the token at once; the others wait, as long as their
// context allows.
type HSM struct {
	cfg    Config
	mod    *module
	pool   *pool
	stats  counters
	random io.Reader // IVs and key ids

	// state is the current snapshot of handles; see state.
	state  atomic.Pointer[state]
	closed atomic.Bool
	// names caches the handles of named keys of the current state.
	names namedCache

	// lock serialises everything that changes state: recovery, key lookup
	// and generation, and Close. It is a channel so that waiting for it
	// honours a context. The login session is only used with lock held.
	lock chan struct{}
	// retryInterval is how long operations reuse the error of a failed
	// recovery before probing the token again (see ready).
	retryInterval time.Duration

	// Guarded by lock:
	hadKey   bool      // a key was found since the last C_Initialize that found none
	epoch    uint64    // last epoch handed out
	lastErr  error     // result of the last recovery attempt
	lastFail time.Time // when it ended
}

// Open loads the module cfg.Lib, initializes it if this process has not
// yet, finds the token, opens the login session, logs in with cfg.PIN and
// looks up the master key by cfg.KeyLabel. A missing key is not an error
// here (FindKey and EnsureKey report it; Wrap and Unwrap fail with
// ErrKeyNotFound until it exists); more than one key with the label is
// (ErrDuplicateKey). Open never creates a key.
//
// Errors match ErrInvalid (bad cfg), ErrLibrary, ErrTokenNotFound,
// ErrPINIncorrect, ErrDuplicateKey, ErrKeyUnsuitable or, for other failed
// calls, are a *CallError. The PIN is never part of an error.
//
// For SoftHSM2, set SOFTHSM2_CONF before the first Open of the process (or
// after every HSM of the module was closed): the module reads it at
// C_Initialize only.
func Open(ctx context.Context, cfg Config) (*HSM, error) {
	const op = "open"
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	h := &HSM{cfg: cfg, random: rand.Reader, lock: make(chan struct{}, 1), retryInterval: RetryInterval}
	h.names.limit = cfg.NamedKeyCache
	h.mod, err = acquireModule(&h.stats, op, cfg.Lib)
	if err != nil {
		return nil, err
	}
	st, err := h.start(op)
	if err != nil {
		_ = h.mod.release(&h.stats, op)
		return nil, err
	}
	h.state.Store(st)
	return h, nil
}

// start finds the token, sizes the pool, logs in and looks up the key.
func (h *HSM) start(op string) (*state, error) {
	gen, _ := h.mod.status()
	slot, ti, err := h.resolveSlot(op, gen)
	if err != nil {
		return nil, err
	}
	h.pool = newPool(poolSize(h.cfg.MaxSessions, ti))
	st, err := h.login(op, &state{gen: gen}, gen, slot)
	if err != nil {
		return nil, err
	}
	st.key, err = h.findKey(op, st)
	if err != nil && !errors.Is(err, ErrKeyNotFound) {
		h.closeLogin(op, st)
		return nil, err
	}
	return st, nil
}

// Close closes the sessions of h and, if h was the last HSM using its
// module in this process, finalizes the module. Calls after Close fail with
// ErrClosed. Close is idempotent.
func (h *HSM) Close() error {
	const op = "close"
	h.lock <- struct{}{}
	defer func() { <-h.lock }()
	if h.closed.Swap(true) {
		return nil
	}
	h.drain(op)
	h.names.reset()
	if st := h.state.Load(); st != nil {
		h.closeLogin(op, st)
	}
	return h.mod.release(&h.stats, op)
}

// Stats returns a snapshot of the PKCS#11 activity of h.
func (h *HSM) Stats() Stats {
	s := h.stats.snapshot()
	if h.pool != nil {
		s.PoolSize = cap(h.pool.sem)
	}
	return s
}

// Wrap encrypts plaintext, 16 or 32 bytes of key material, under the master
// key and returns a self-describing blob (see the package doc). With
// MechanismAESGCM, aad is authenticated with the blob: Unwrap must be given
// the same aad. With MechanismKWP, aad must be empty.
//
// Each call draws a fresh IV, so wrapping the same plaintext twice gives
// different blobs (AES-GCM; AES-KWP is deterministic). Errors match
// ErrInvalid, ErrKeyNotFound, ErrUnavailable, ErrClosed, a context error,
// or are a *CallError.
func (h *HSM) Wrap(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	return h.wrap(ctx, "wrap", withMaster, plaintext, aad)
}

// withKey runs f with the handle of the key that an operation uses, in
// session s of state st. withMaster and HSM.withNamed are the two kinds.
type withKey func(s pkcs11.SessionHandle, st *state, f func(key pkcs11.ObjectHandle) error) error

// withMaster runs f with the master key.
func withMaster(_ pkcs11.SessionHandle, st *state, f func(pkcs11.ObjectHandle) error) error {
	return f(st.key)
}

// wrap is Wrap under the key that use picks.
func (h *HSM) wrap(ctx context.Context, op string, use withKey, plaintext, aad []byte) ([]byte, error) {
	if !validKeyLen(len(plaintext)) {
		return nil, fmt.Errorf("hsm: %s: plaintext is %d bytes, want 16 or 32: %w", op, len(plaintext), ErrInvalid)
	}
	mech := h.cfg.Mechanism
	if mech == MechanismKWP && len(aad) > 0 {
		return nil, fmt.Errorf("hsm: %s: CKM_AES_KEY_WRAP_PAD cannot bind associated data: %w", op, ErrInvalid)
	}
	var out []byte
	err := h.do(ctx, op, func(s pkcs11.SessionHandle, st *state) error {
		return use(s, st, func(key pkcs11.ObjectHandle) (err error) {
			if mech == MechanismKWP {
				out, err = h.wrapKWP(op, s, st.gen, key, plaintext)
			} else {
				out, err = h.wrapGCM(op, s, st.gen, key, plaintext, aad)
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Unwrap reverses Wrap. The blob's own mechanism byte picks the mechanism,
// so blobs written under either Config.Mechanism stay readable. The
// returned key material belongs to the caller, who should clear it after
// use.
//
// A blob that is malformed, or that the token rejects with the code PKCS#11
// defines for an inauthentic input, gives an error matching ErrUnwrap.
// SoftHSM2 reports a failed AES-GCM tag check (a flipped bit, another aad,
// another key) as CKR_GENERAL_ERROR: that is a *CallError naming C_Decrypt,
// and it matches neither ErrUnwrap nor ErrUnavailable. Other errors as for
// Wrap.
func (h *HSM) Unwrap(ctx context.Context, blob, aad []byte) ([]byte, error) {
	return h.unwrap(ctx, "unwrap", withMaster, blob, aad)
}

// unwrap is Unwrap under the key that use picks.
func (h *HSM) unwrap(ctx context.Context, op string, use withKey, blob, aad []byte) ([]byte, error) {
	b, err := parseBlob(blob)
	if err != nil {
		return nil, fmt.Errorf("hsm: %s: %w", op, err)
	}
	if b.mech == MechanismKWP && len(aad) > 0 {
		return nil, fmt.Errorf("hsm: %s: an AES-KWP blob binds no associated data, but aad was given: %w", op, ErrInvalid)
	}
	var out []byte
	err = h.do(ctx, op, func(s pkcs11.SessionHandle, st *state) error {
		return use(s, st, func(key pkcs11.ObjectHandle) (err error) {
			if b.mech == MechanismKWP {
				out, err = h.unwrapKWP(op, s, st.gen, key, b)
			} else {
				out, err = h.unwrapGCM(op, s, st.gen, key, b, aad)
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Ping checks that the token answers, that an operation session can be had
// and that the master key handle is valid, with one C_GetAttributeValue on
// the key (plus C_OpenSession when the pool is empty). Like every
// operation, it replaces stale sessions and handles and re-initializes the
// module when needed, so a Ping after the token came back also restores
// service. Errors: ErrKeyNotFound when the token has no master key,
// ErrUnavailable when the token is not reachable, ErrClosed.
func (h *HSM) Ping(ctx context.Context) error {
	const op = "ping"
	return h.do(ctx, op, func(s pkcs11.SessionHandle, st *state) error {
		_, err := h.keyType(op, s, st.gen, st.key)
		return err
	})
}

// FindKey looks the master key up by label now, on the token, and caches
// its handle. It never creates a key. Errors: ErrKeyNotFound,
// ErrDuplicateKey, ErrKeyUnsuitable, ErrUnavailable, ErrClosed, a context
// error, or a *CallError.
//
// A key that this HSM had found before and that a search no longer finds is
// treated as a token fault, not as a missing key: the module is
// re-initialized first and the search repeated (SoftHSM2, whose token
// directory has vanished, answers searches with no results). If the module
// cannot be initialized, the error matches ErrUnavailable.
func (h *HSM) FindKey(ctx context.Context) error {
	const op = "find key"
	if err := h.lockCtx(ctx, op); err != nil {
		return err
	}
	defer h.unlock()
	_, err := h.recoverLocked(op)
	return err
}

// EnsureKey finds the master key and, only if generate is true and
// Config.GenerateKey permits it, generates it when the token has none.
// Strongroom passes generate=true at operator init and nowhere else.
//
// The key is AES-256 (CKM_AES_KEY_GEN), a token object, private, sensitive
// and not extractable, with a random CKA_ID, labelled Config.KeyLabel, and
// every usage attribute set explicitly: encrypt, decrypt, wrap and unwrap
// allowed; sign, verify and derive refused (SoftHSM2 defaults unset usage
// attributes to true).
//
// EnsureKey never generates when the lookup failed for another reason than
// a missing key, when a key this HSM had found vanished and the module could
// not be re-initialized, or when C_GetTokenInfo does not confirm that the
// token is present and initialized. Calling it again once the key exists is
// a no-op. Errors as for FindKey.
func (h *HSM) EnsureKey(ctx context.Context, generate bool) error {
	const op = "ensure key"
	if err := h.lockCtx(ctx, op); err != nil {
		return err
	}
	defer h.unlock()
	st, err := h.recoverLocked(op)
	if err == nil || !generate || !errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrUnavailable) {
		return err
	}
	if !h.cfg.GenerateKey {
		return fmt.Errorf("%w (generation not permitted: Config.GenerateKey is false)", err)
	}
	return h.generateLocked(op, st)
}

// do runs body with a pooled session and a state whose key handle is valid.
// If body fails with a fault (see faultOf), it records the fault, lets
// ready recover (new sessions, new login, key found again, the module
// re-initialized if needed) and runs body once more. If recovery fails, the
// error says both what failed and why recovery did, and matches
// ErrUnavailable.
func (h *HSM) do(ctx context.Context, op string, body func(pkcs11.SessionHandle, *state) error) error {
	return h.run(ctx, op, false, body)
}

// doLogin is do with the read-write login session instead of a pooled one,
// for changes to the token's objects. body runs with h.lock held, so
// doLogin calls are serialised with each other and with recovery, but not
// with operations on pooled sessions.
func (h *HSM) doLogin(ctx context.Context, op string, body func(pkcs11.SessionHandle, *state) error) error {
	return h.run(ctx, op, true, body)
}

// run is do, or doLogin if login is true.
func (h *HSM) run(ctx context.Context, op string, login bool, body func(pkcs11.SessionHandle, *state) error) error {
	var first error
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("hsm: %s: %w", op, err)
		}
		st, ran, err := h.runOnce(ctx, op, login, body)
		if !ran {
			if first != nil {
				return &faultError{op: first, recovery: err}
			}
			return err
		}
		if err == nil {
			return nil
		}
		lvl := faultLevelOf(err)
		if lvl == faultNone {
			return err
		}
		h.markFault(st, lvl)
		if first != nil {
			return err
		}
		first = err
	}
}

// runOnce gets a usable state (recovering if needed) and runs body once, on
// a pooled session or, if login is true, on the login session with h.lock
// held. ran is false if no usable state could be had; err is then the
// error of the recovery.
func (h *HSM) runOnce(ctx context.Context, op string, login bool, body func(pkcs11.SessionHandle, *state) error) (st *state, ran bool, err error) {
	if login {
		if err := h.lockCtx(ctx, op); err != nil {
			return nil, false, err
		}
		defer h.unlock()
		if st, err = h.readyLocked(op); err != nil {
			return nil, false, err
		}
		return st, true, body(st.login, st)
	}
	if st, err = h.ready(ctx, op); err != nil {
		return nil, false, err
	}
	s, err := h.acquire(ctx, op, st)
	if err != nil {
		return st, true, err
	}
	err = body(s.h, st)
	h.release(s, err == nil)
	return st, true, err
}

// faultLevelOf returns the fault level of a *CallError in err.
func faultLevelOf(err error) faultLevel {
	var ce *CallError
	if errors.As(err, &ce) {
		return faultOf(ce.Code)
	}
	return faultNone
}

func (h *HSM) lockCtx(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hsm: %s: %w", op, err)
	}
	select {
	case h.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hsm: %s: waiting for recovery: %w", op, ctx.Err())
	}
}

func (h *HSM) unlock() { <-h.lock }
