//go:build cgo && !nopkcs11

package hsm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/pkcs11"
)

// state is an immutable snapshot of the handles an HSM works with. The hot
// path loads it atomically; recovery builds a new one and swaps it in.
type state struct {
	gen   uint64               // module generation the handles belong to
	epoch uint64               // bumped at every rebuild; older pooled sessions are closed
	slot  uint                 // slot of the token
	login pkcs11.SessionHandle // the permanent, logged-in session (0: none)
	key   pkcs11.ObjectHandle  // the master key (0: not found)
	fault faultLevel           // set when a call reported a stale handle or a device fault
}

// usable reports whether operations can run on st without recovery.
func (h *HSM) usable(st *state) bool {
	gen, initialized := h.mod.status()
	return st != nil && st.fault == faultNone && initialized && st.gen == gen && st.key != 0
}

// ready returns a usable state, recovering first if needed. Concurrent
// callers wait for one recovery. After a recovery failed because the token
// is unavailable, operations get that error again, without probing the
// token, for retryInterval: a dead token is probed about once per
// interval, not once per request. FindKey and EnsureKey always probe.
func (h *HSM) ready(ctx context.Context, op string) (*state, error) {
	if h.closed.Load() {
		return nil, fmt.Errorf("hsm: %s: %w", op, ErrClosed)
	}
	if st := h.state.Load(); h.usable(st) {
		return st, nil
	}
	if err := h.lockCtx(ctx, op); err != nil {
		return nil, err
	}
	defer h.unlock()
	return h.readyLocked(op)
}

// readyLocked is ready with h.lock held.
func (h *HSM) readyLocked(op string) (*state, error) {
	if st := h.state.Load(); !h.closed.Load() && h.usable(st) {
		return st, nil
	}
	if h.lastErr != nil && errors.Is(h.lastErr, ErrUnavailable) && time.Since(h.lastFail) < h.retryInterval {
		return nil, &stillUnavailableError{op: op, last: h.lastErr}
	}
	return h.recoverLocked(op)
}

// markFault records that a call made with st failed with a fault of level
// lvl, unless the state was rebuilt since.
func (h *HSM) markFault(st *state, lvl faultLevel) {
	for {
		cur := h.state.Load()
		if cur == nil || cur.gen != st.gen || cur.epoch != st.epoch || cur.fault >= lvl {
			return
		}
		next := *cur
		next.fault = lvl
		if h.state.CompareAndSwap(cur, &next) {
			return
		}
	}
}

// recoverLocked brings the state up to date and looks the key up, with h.lock
// held. It climbs a ladder and stops at the first rung that works:
//
//  1. no fault, same generation: search the key again (FindKey, or a key
//     that was missing);
//  2. a stale session, login or handle (faultSoft), or a module
//     re-initialized by another HSM: drop pooled sessions, check the login
//     session with C_GetSessionInfo and replace it (C_OpenSession, C_Login)
//     if it is gone or logged out, then search the key;
//  3. a device fault (faultHard), an uninitialized module, a failure on
//     rung 2, or a key that was found before and is no longer: C_Finalize,
//     C_Initialize, find the slot, open the login session, C_Login, search
//     the key.
//
// On rung 3 every error also matches ErrUnavailable, except a missing key
// after a successful C_Initialize, which is believed (ErrKeyNotFound).
func (h *HSM) recoverLocked(op string) (*state, error) {
	st, err := h.recoverLadder(op)
	h.lastErr, h.lastFail = err, time.Now()
	return st, err
}

func (h *HSM) recoverLadder(op string) (*state, error) {
	if h.closed.Load() {
		return nil, fmt.Errorf("hsm: %s: %w", op, ErrClosed)
	}
	st := h.state.Load()
	level := st.fault
	gen, initialized := h.mod.status()
	if !initialized {
		level = faultHard
	} else if st.gen != gen {
		level = max(level, faultSoft)
	}
	if level != faultNone {
		h.stats.recoveries.Add(1)
	}
	if level == faultSoft {
		slot := st.slot
		if st.gen != gen {
			// Another HSM re-initialized the module: the slot may have
			// moved (a token found by label), and every handle is gone.
			var err error
			if slot, _, err = h.resolveSlot(op, gen); err != nil {
				return h.reinitialize(op, st)
			}
		}
		next, err := h.login(op, st, gen, slot)
		if err != nil {
			if errors.Is(err, ErrPINIncorrect) {
				return nil, err
			}
			return h.reinitialize(op, st)
		}
		h.state.Store(next)
		h.drain(op)
		st = next
	}
	if level == faultHard {
		return h.reinitialize(op, st)
	}
	key, err := h.findKey(op, st)
	switch {
	case err == nil:
		return h.storeKey(st, key), nil
	case errors.Is(err, ErrKeyNotFound) && h.hadKey:
		// The key was there and a search no longer finds it: a vanished
		// token looks exactly like this on SoftHSM2.
		if level == faultNone {
			h.stats.recoveries.Add(1)
		}
		return h.reinitialize(op, st)
	case faultLevelOf(err) == faultSoft && level == faultNone:
		h.markFault(st, faultSoft)
		return h.recoverLadder(op)
	case faultLevelOf(err) != faultNone:
		if level == faultNone {
			h.stats.recoveries.Add(1)
		}
		return h.reinitialize(op, st)
	default:
		h.storeKey(st, 0)
		return st, err
	}
}

// reinitialize is rung 3 of recoverLocked.
func (h *HSM) reinitialize(op string, st *state) (*state, error) {
	did, err := h.mod.reinit(&h.stats, op, st.gen)
	if did {
		h.stats.reinits.Add(1)
	}
	if err != nil {
		h.markHard(st)
		return nil, markUnavailable(err)
	}
	// From here on the module is in a new generation: none of st's handles
	// may be used, and a failure must lead to another C_Initialize next
	// time (SoftHSM2, for one, only sees a returning token then).
	gen, _ := h.mod.status()
	base := &state{gen: gen, epoch: st.epoch, slot: st.slot}
	slot, _, err := h.resolveSlot(op, gen)
	if err != nil {
		h.markHard(base)
		return nil, markUnavailable(err)
	}
	next, err := h.login(op, base, gen, slot)
	if err != nil {
		h.markHard(base)
		if errors.Is(err, ErrPINIncorrect) {
			return nil, err
		}
		return nil, markUnavailable(err)
	}
	h.state.Store(next)
	h.drain(op)
	key, err := h.findKey(op, next)
	switch {
	case err == nil:
		return h.storeKey(next, key), nil
	case errors.Is(err, ErrKeyNotFound):
		// A fresh C_Initialize found no key: believe it, and stop treating
		// the absence as a fault.
		h.hadKey = false
		h.storeKey(next, 0)
		return next, err
	case faultLevelOf(err) != faultNone:
		h.markHard(next)
		return nil, markUnavailable(err)
	default:
		h.storeKey(next, 0)
		return next, err
	}
}

// markHard makes the next call start at rung 3: it stores a copy of st
// with faultHard.
func (h *HSM) markHard(st *state) {
	next := *st
	next.fault = faultHard
	h.state.Store(&next)
}

// storeKey stores a copy of st with key set and returns it.
func (h *HSM) storeKey(st *state, key pkcs11.ObjectHandle) *state {
	next := *st
	next.key = key
	next.fault = faultNone
	h.state.Store(&next)
	return &next
}

// login returns a state for generation gen with a logged-in session. If
// prev is of the same generation and its login session is still alive and
// logged in, it is kept; otherwise a new one is opened (read-write, for key
// generation) and logged in, and only then is the old one closed, so that
// the application is never left without a session (which would log it
// out). CKR_USER_ALREADY_LOGGED_IN is success: login state is shared by all
// sessions of the process. Every call of login starts a new epoch, so
// pooled sessions of the previous one are closed.
func (h *HSM) login(op string, prev *state, gen uint64, slot uint) (*state, error) {
	h.epoch++
	next := &state{gen: gen, epoch: h.epoch, slot: slot}
	if prev.gen == gen && prev.login != 0 {
		var info pkcs11.SessionInfo
		err := h.mod.call(&h.stats, op, fnGetSessionInfo, gen, func() (err error) {
			info, err = h.mod.ctx.GetSessionInfo(prev.login)
			return err
		})
		if err == nil && (info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS) {
			next.login = prev.login
			return next, nil
		}
	}
	var sh pkcs11.SessionHandle
	err := h.mod.call(&h.stats, op, fnOpenSession, gen, func() (err error) {
		sh, err = h.mod.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = h.mod.call(&h.stats, op, fnLogin, gen, func() error {
		return h.mod.ctx.Login(sh, pkcs11.CKU_USER, h.cfg.PIN)
	})
	var ce *CallError
	if err != nil && !(errors.As(err, &ce) && ce.Code == ckrUserAlreadyLoggedIn) {
		h.closeSession(op, session{h: sh, gen: gen})
		return nil, err
	}
	if prev.gen == gen && prev.login != 0 {
		h.closeSession(op, session{h: prev.login, gen: gen})
	}
	next.login = sh
	return next, nil
}

// closeLogin closes the login session of st.
func (h *HSM) closeLogin(op string, st *state) {
	if st.login != 0 {
		h.closeSession(op, session{h: st.login, gen: st.gen})
	}
}

// resolveSlot finds the slot of the configured token and returns its token
// information.
func (h *HSM) resolveSlot(op string, gen uint64) (uint, pkcs11.TokenInfo, error) {
	tokenInfo := func(slot uint) (ti pkcs11.TokenInfo, err error) {
		err = h.mod.call(&h.stats, op, fnGetTokenInfo, gen, func() (err error) {
			ti, err = h.mod.ctx.GetTokenInfo(slot)
			return err
		})
		return ti, err
	}
	if h.cfg.Slot != nil {
		slot := *h.cfg.Slot
		ti, err := tokenInfo(slot)
		if err != nil {
			return 0, ti, err
		}
		if h.cfg.TokenLabel != "" && ti.Label != h.cfg.TokenLabel {
			return 0, ti, fmt.Errorf("hsm: %s: the token in slot %d is labelled %q, not %q: %w",
				op, slot, ti.Label, h.cfg.TokenLabel, ErrTokenNotFound)
		}
		return slot, ti, nil
	}
	var slots []uint
	err := h.mod.call(&h.stats, op, fnGetSlotList, gen, func() (err error) {
		slots, err = h.mod.ctx.GetSlotList(true)
		return err
	})
	if err != nil {
		return 0, pkcs11.TokenInfo{}, err
	}
	var (
		found   []uint
		foundTI pkcs11.TokenInfo
	)
	for _, slot := range slots {
		ti, err := tokenInfo(slot)
		if err != nil {
			continue // a slot whose token does not answer is not ours to judge
		}
		if ti.Label == h.cfg.TokenLabel {
			found = append(found, slot)
			foundTI = ti
		}
	}
	switch len(found) {
	case 0:
		return 0, foundTI, fmt.Errorf("hsm: %s: no token labelled %q: %w", op, h.cfg.TokenLabel, ErrTokenNotFound)
	case 1:
		return found[0], foundTI, nil
	default:
		return 0, foundTI, fmt.Errorf("hsm: %s: %d tokens are labelled %q; configure the slot: %w",
			op, len(found), h.cfg.TokenLabel, ErrInvalid)
	}
}

// findKey searches the secret keys labelled Config.KeyLabel on the login
// session of st and checks that the only match is an AES-256 key.
func (h *HSM) findKey(op string, st *state) (pkcs11.ObjectHandle, error) {
	objs, err := h.findObjects(op, st.login, st.gen, secretKeyTemplate(h.cfg.KeyLabel), 2)
	switch {
	case err != nil:
		return 0, err
	case len(objs) == 0:
		return 0, fmt.Errorf("hsm: %s: no secret key labelled %q: %w", op, h.cfg.KeyLabel, ErrKeyNotFound)
	case len(objs) > 1:
		return 0, fmt.Errorf("hsm: %s: secret key label %q: %w", op, h.cfg.KeyLabel, ErrDuplicateKey)
	}
	kt, err := h.keyType(op, st.login, st.gen, objs[0])
	if err != nil {
		return 0, err
	}
	if kt.typ != pkcs11.CKK_AES || kt.len != 32 {
		return 0, fmt.Errorf("hsm: %s: key %q has CKA_KEY_TYPE 0x%X and CKA_VALUE_LEN %d: %w",
			op, h.cfg.KeyLabel, kt.typ, kt.len, ErrKeyUnsuitable)
	}
	h.hadKey = true
	return objs[0], nil
}

// secretKeyTemplate matches the secret keys labelled label.
func secretKeyTemplate(label string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
	}
}

// findBatch is how many handles findObjects asks C_FindObjects for at a
// time when it wants them all.
const findBatch = 64

// findObjects returns the objects of session s that match template: at
// most limit of them, with one C_FindObjects call, if limit > 0; all of
// them, with as many calls as it takes, if limit is 0. The search is
// always finalized (C_FindObjectsFinal), so s can search again. It holds
// the module's objects lock for reading (see module.objects).
func (h *HSM) findObjects(op string, s pkcs11.SessionHandle, gen uint64, template []*pkcs11.Attribute, limit int) ([]pkcs11.ObjectHandle, error) {
	return h.findObjectsBatch(op, s, gen, template, limit, findBatch)
}

// findObjectsBatch is findObjects asking for batch handles per
// C_FindObjects call when limit is 0.
func (h *HSM) findObjectsBatch(op string, s pkcs11.SessionHandle, gen uint64, template []*pkcs11.Attribute, limit, batch int) ([]pkcs11.ObjectHandle, error) {
	m := h.mod
	m.objects.RLock()
	defer m.objects.RUnlock()
	if err := m.call(&h.stats, op, fnFindObjectsInit, gen, func() error {
		return m.ctx.FindObjectsInit(s, template)
	}); err != nil {
		return nil, err
	}
	var (
		objs    []pkcs11.ObjectHandle
		findErr error
	)
	for {
		n := limit
		if n <= 0 {
			n = batch
		}
		var got []pkcs11.ObjectHandle
		findErr = m.call(&h.stats, op, fnFindObjects, gen, func() (err error) {
			got, _, err = m.ctx.FindObjects(s, n)
			return err
		})
		objs = append(objs, got...)
		if findErr != nil || limit > 0 || len(got) == 0 {
			break
		}
	}
	finalErr := m.call(&h.stats, op, fnFindObjectsFinal, gen, func() error {
		return m.ctx.FindObjectsFinal(s)
	})
	switch {
	case findErr != nil:
		return nil, findErr
	case finalErr != nil:
		return nil, finalErr
	}
	return objs, nil
}

type keyType struct{ typ, len uint }

// keyType reads CKA_KEY_TYPE and CKA_VALUE_LEN of key.
func (h *HSM) keyType(op string, s pkcs11.SessionHandle, gen uint64, key pkcs11.ObjectHandle) (keyType, error) {
	var attrs []*pkcs11.Attribute
	err := h.mod.call(&h.stats, op, fnGetAttributeValue, gen, func() (err error) {
		attrs, err = h.mod.ctx.GetAttributeValue(s, key, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
		})
		return err
	})
	if err != nil {
		return keyType{}, err
	}
	return keyType{typ: attrUint(attrs[0]), len: attrUint(attrs[1])}, nil
}

// generateKey generates an AES-256 token key with the master key's
// template on session s (read-write), with the module's objects lock held
// for writing (see module.objects).
func (h *HSM) generateKey(op string, s pkcs11.SessionHandle, gen uint64, label string, id []byte) (pkcs11.ObjectHandle, error) {
	m := h.mod
	m.objects.Lock()
	defer m.objects.Unlock()
	var key pkcs11.ObjectHandle
	err := m.call(&h.stats, op, fnGenerateKey, gen, func() (err error) {
		key, err = m.ctx.GenerateKey(s,
			[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)},
			masterKeyTemplate(label, id))
		return err
	})
	return key, err
}

// generateLocked creates the master key, with h.lock held, after a lookup
// found none. It first asks C_GetTokenInfo whether the token is present
// and initialized, so that a key is never created in a token that only
// seems empty because it is not there.
func (h *HSM) generateLocked(op string, st *state) error {
	if st == nil {
		return fmt.Errorf("hsm: %s: no session to generate the key in: %w", op, ErrUnavailable)
	}
	var ti pkcs11.TokenInfo
	if err := h.mod.call(&h.stats, op, fnGetTokenInfo, st.gen, func() (err error) {
		ti, err = h.mod.ctx.GetTokenInfo(st.slot)
		return err
	}); err != nil {
		return markUnavailable(err)
	}
	if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 || ti.Flags&pkcs11.CKF_USER_PIN_INITIALIZED == 0 {
		return fmt.Errorf("hsm: %s: token %q is not initialized: %w", op, ti.Label, ErrUnavailable)
	}
	id := make([]byte, 16)
	if _, err := h.random.Read(id); err != nil {
		return fmt.Errorf("hsm: %s: random key id: %w", op, err)
	}
	if _, err := h.generateKey(op, st.login, st.gen, h.cfg.KeyLabel, id); err != nil {
		return err
	}
	// Search again rather than trust the returned handle: this also proves
	// the key is findable by label, and that it is the only one.
	found, err := h.findKey(op, st)
	if err != nil {
		return err
	}
	h.storeKey(st, found)
	return nil
}
