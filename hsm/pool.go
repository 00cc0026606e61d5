//go:build cgo && !nopkcs11

package hsm

import (
	"context"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"
)

// pool holds the operation sessions of one HSM. At most cap(sem) sessions
// exist at once; each is used by one goroutine at a time; a session comes
// back to the pool only when its last call succeeded, so a session left
// with an active operation (CKR_OPERATION_ACTIVE) or in any other unknown
// state is closed rather than reused. The login session is not part of the
// pool: it stays open for the life of the HSM, because closing the last
// session of an application logs it out.
type pool struct {
	sem chan struct{} // one token per session in use

	mu   sync.Mutex
	idle []session
}

// session is an operation session and the state it was opened in. A
// session whose generation or epoch is not the HSM's current one is stale
// and is closed instead of used.
type session struct {
	h     pkcs11.SessionHandle
	gen   uint64
	epoch uint64
}

func newPool(size int) *pool {
	return &pool{sem: make(chan struct{}, size)}
}

// poolSize picks the number of operation sessions: the configured number,
// or what the token allows beside the login session, capped at
// DefaultMaxSessions when the token reports no limit.
func poolSize(configured int, ti pkcs11.TokenInfo) int {
	limit := DefaultMaxSessions
	switch tokenMax := ti.MaxSessionCount; tokenMax {
	case pkcs11.CK_EFFECTIVELY_INFINITE, pkcs11.CK_UNAVAILABLE_INFORMATION:
		if configured > 0 {
			limit = configured
		}
	default:
		limit = min(DefaultMaxSessions, int(tokenMax)-1)
		if configured > 0 {
			limit = min(configured, int(tokenMax)-1)
		}
	}
	return max(limit, 1)
}

// acquire returns a session for st, reusing an idle one or opening a new
// one. It waits for a free place while all are in use, until ctx is done.
func (h *HSM) acquire(ctx context.Context, op string, st *state) (session, error) {
	if err := ctx.Err(); err != nil {
		return session{}, fmt.Errorf("hsm: %s: waiting for a session: %w", op, err)
	}
	select {
	case h.pool.sem <- struct{}{}:
	case <-ctx.Done():
		return session{}, fmt.Errorf("hsm: %s: waiting for a session: %w", op, ctx.Err())
	}
	if h.closed.Load() {
		<-h.pool.sem
		return session{}, fmt.Errorf("hsm: %s: %w", op, ErrClosed)
	}
	for {
		h.pool.mu.Lock()
		n := len(h.pool.idle)
		if n == 0 {
			h.pool.mu.Unlock()
			break
		}
		s := h.pool.idle[n-1]
		h.pool.idle = h.pool.idle[:n-1]
		h.pool.mu.Unlock()
		if s.gen == st.gen && s.epoch == st.epoch {
			return s, nil
		}
		h.closeSession(op, s)
	}
	var sh pkcs11.SessionHandle
	err := h.mod.call(&h.stats, op, fnOpenSession, st.gen, func() (err error) {
		sh, err = h.mod.ctx.OpenSession(st.slot, pkcs11.CKF_SERIAL_SESSION)
		return err
	})
	if err != nil {
		<-h.pool.sem
		return session{}, err
	}
	return session{h: sh, gen: st.gen, epoch: st.epoch}, nil
}

// release gives s back. A session whose last call failed, or that belongs
// to an older state, or that outlived Close, is closed.
func (h *HSM) release(s session, healthy bool) {
	cur := h.state.Load()
	if healthy && !h.closed.Load() && cur != nil && s.gen == cur.gen && s.epoch == cur.epoch {
		h.pool.mu.Lock()
		h.pool.idle = append(h.pool.idle, s)
		h.pool.mu.Unlock()
	} else {
		h.closeSession("release session", s)
	}
	<-h.pool.sem
}

// drain closes every idle session; sessions in use are closed when they are
// released, since their epoch is then stale.
func (h *HSM) drain(op string) {
	h.pool.mu.Lock()
	idle := h.pool.idle
	h.pool.idle = nil
	h.pool.mu.Unlock()
	for _, s := range idle {
		h.closeSession(op, s)
	}
}

// closeSession closes s if its generation is current; a session of an older
// generation died with C_Finalize, and its handle may now name another one.
func (h *HSM) closeSession(op string, s session) {
	_ = h.mod.call(&h.stats, op, fnCloseSession, s.gen, func() error {
		return h.mod.ctx.CloseSession(s.h)
	})
}
