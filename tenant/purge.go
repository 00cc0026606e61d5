package tenant

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/strongroom/strongroom/seal"
)

// Purges. What is left of a deleted tenant (its HSM key, then its
// records) is cleared by one node at a time, under a lease held in the
// purge record, and a node whose attempt fails tries again later and
// later, so that an HSM or storage outage costs a few attempts (and log
// lines) an hour per node, not one per sweep.

const (
	// purgeLease is how long a node's claim on a purge keeps the other
	// nodes off it; the node renews it while it works. When the node
	// stops, or its clock runs ahead of the others', another node takes
	// over once the lease has run out by that node's clock. Two nodes
	// purging at once only repeat work: each batch deletes what is there.
	purgeLease = 2 * time.Minute
	// maxPurgeRetry bounds the wait before a node tries again a purge that
	// failed; the wait starts at the sweep interval and doubles.
	maxPurgeRetry = 10 * time.Minute
)

// errPurgeHeld: another node holds the lease on the purge.
var errPurgeHeld = errors.New("tenant: another node is purging the tenant")

// purgeRetry is when this node next tries a purge that failed, and how
// long it waited before that attempt.
type purgeRetry struct {
	next time.Time
	wait time.Duration
}

// heldByOther reports whether a node other than holder has p's lease at
// now.
func (p *purgeRecord) heldByOther(holder string, now time.Time) bool {
	return p.Holder != "" && p.Holder != holder && now.UnixNano() < p.LeaseUntil
}

// lease gives p's lease to holder until purgeLease after now.
func (p *purgeRecord) lease(holder string, now time.Time) {
	p.Holder, p.LeaseUntil = holder, now.Add(purgeLease).UnixNano()
}

// unlease drops p's lease.
func (p *purgeRecord) unlease() { p.Holder, p.LeaseUntil = "", 0 }

// destroyKey destroys the tenant's HSM key named in its purge record and
// records that it is gone.
func (m *Manager) destroyKey(ctx context.Context, idHex string) error {
	p, err := m.purgeRecord(ctx, idHex)
	if err != nil || p == nil || p.HSMDestroyed {
		return err
	}
	if m.cfg.HSM == nil {
		return errors.New("tenant: the tenant's key is on an HSM, and no HSM is configured")
	}
	if err := m.cfg.HSM.DestroyNamedKey(ctx, p.HSMKeyLabel); err != nil {
		return err
	}
	return m.updatePurge(ctx, idHex, func(p *purgeRecord) (bool, error) {
		p.HSMDestroyed = true
		return true, nil
	})
}

// updatePurge runs fn on tenant idHex's purge record in a transaction and
// writes the record back if fn says so. Without a record it does nothing.
func (m *Manager) updatePurge(ctx context.Context, idHex string, fn func(p *purgeRecord) (write bool, err error)) error {
	return m.cfg.Root.Barrier.Update(ctx, func(tx *seal.Tx) error {
		p, err := seal.GetJSON[purgeRecord](&tx.ReadTx, purgeKey(idHex))
		if err != nil || p == nil {
			return err
		}
		write, err := fn(p)
		if err != nil || !write {
			return err
		}
		return putPurge(tx, p)
	})
}

// claimPurge takes this node's lease on the purge of tenant idHex, or
// renews it once half spent, and returns the purge record: nil when there
// is none (the purge is over), errPurgeHeld while another node's lease
// lasts.
func (m *Manager) claimPurge(ctx context.Context, idHex string) (*purgeRecord, error) {
	now := m.cfg.Now()
	p, err := m.purgeRecord(ctx, idHex)
	switch {
	case err != nil || p == nil:
		return nil, err
	case p.heldByOther(m.holder, now):
		return nil, errPurgeHeld
	case p.Holder == m.holder && now.Add(purgeLease/2).UnixNano() < p.LeaseUntil:
		return p, nil // ours, with more than half of it left
	}
	var claimed *purgeRecord
	err = m.updatePurge(ctx, idHex, func(p *purgeRecord) (bool, error) {
		if p.heldByOther(m.holder, now) {
			return false, errPurgeHeld
		}
		p.lease(m.holder, now)
		claimed = p
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// startPurge clears a deleted tenant's records in the background, once at
// a time on this node. A failed attempt is retried by FinishPurges after
// a wait that doubles per failure, up to maxPurgeRetry; the lease is given
// up so that another node may try meanwhile.
func (m *Manager) startPurge(idHex string) {
	m.purgeMu.Lock()
	if m.purging[idHex] {
		m.purgeMu.Unlock()
		return
	}
	m.purging[idHex] = true
	m.purgeMu.Unlock()
	go func() {
		// The purge counts as running until all of this is done, so that
		// whoever waits for it sees its lease, retry wait and log line.
		defer func() {
			m.purgeMu.Lock()
			delete(m.purging, idHex)
			m.purgeMu.Unlock()
		}()
		err := m.purge(m.life, idHex)
		failed := err != nil && !errors.Is(err, errPurgeHeld) && m.life.Err() == nil
		m.purgeMu.Lock()
		r := m.retry[idHex]
		if failed {
			r.wait = min(max(2*r.wait, m.cfg.SweepInterval), maxPurgeRetry)
			r.next = m.cfg.Now().Add(r.wait)
			m.retry[idHex] = r
		} else {
			delete(m.retry, idHex)
		}
		m.purgeMu.Unlock()
		if !failed {
			return
		}
		if rerr := m.updatePurge(m.life, idHex, func(p *purgeRecord) (bool, error) {
			if p.Holder != m.holder {
				return false, nil
			}
			p.unlease()
			return true, nil
		}); rerr != nil {
			m.cfg.Logger.Debug("namespace purge lease not given up; it runs out", "tenant_id", idHex, "error", rerr.Error())
		}
		m.cfg.Logger.Warn("namespace purge interrupted; it resumes later", "tenant_id", idHex, "error", err.Error(), "retry_in", r.wait.String())
	}()
}

// purge carries the deletion of a tenant on, under this node's lease: its
// HSM key if still there, then its records, batch by batch. The first
// pass marks the purge record cleared; a pass PurgeGrace after that (see
// FinishPurges) clears again and removes the record. errPurgeHeld: another
// node has the purge.
func (m *Manager) purge(ctx context.Context, idHex string) error {
	p, err := m.claimPurge(ctx, idHex)
	if err != nil || p == nil {
		return err
	}
	if !p.HSMDestroyed {
		if err := m.destroyKey(ctx, idHex); err != nil {
			return err
		}
	}
	id, err := hex.DecodeString(idHex)
	if err != nil {
		return seal.ErrCorrupt
	}
	for {
		n, err := seal.PurgeTenant(ctx, m.cfg.Store, id, m.cfg.PurgeBatch)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		if p, err := m.claimPurge(ctx, idHex); err != nil || p == nil {
			return err // the lease ran out and another node has it, or it finished
		}
	}
	now := m.cfg.Now()
	return m.cfg.Root.Barrier.Update(ctx, func(tx *seal.Tx) error {
		p, err := seal.GetJSON[purgeRecord](&tx.ReadTx, purgeKey(idHex))
		switch {
		case err != nil || p == nil:
			return err
		case p.heldByOther(m.holder, now):
			return errPurgeHeld
		case p.ClearedAt == 0:
			p.ClearedAt = now.Unix() // the first pass
		case m.secondPassDue(p, now):
			return tx.Delete(purgeKey(idHex)) // the second pass
		}
		p.unlease()
		return putPurge(tx, p)
	})
}

// secondPassDue reports whether p's first pass ended PurgeGrace or more
// before now.
func (m *Manager) secondPassDue(p *purgeRecord, now time.Time) bool {
	grace := m.cfg.PurgeGrace
	if grace <= 0 {
		grace = DefaultPurgeGrace
	}
	return p.ClearedAt != 0 && !now.Before(time.Unix(p.ClearedAt, 0).Add(grace))
}

func (m *Manager) purgeRecord(ctx context.Context, idHex string) (*purgeRecord, error) {
	var p *purgeRecord
	err := m.cfg.Root.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		p, err = seal.GetJSON[purgeRecord](tx, purgeKey(idHex))
		return err
	})
	return p, err
}

// eachPurge calls fn with every purge record.
func (m *Manager) eachPurge(ctx context.Context, fn func(p *purgeRecord)) error {
	return m.cfg.Root.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		ids, err := tx.ListNames(purgePrefix())
		if err != nil {
			return err
		}
		for _, id := range ids {
			p, err := seal.GetJSON[purgeRecord](tx, purgeKey(id))
			if err != nil {
				return err
			}
			if p != nil {
				fn(p)
			}
		}
		return nil
	})
}

// duePurges lists, at now, the purges this node should run: those not
// finished (a restart's, or an earlier attempt's) and those due for their
// second pass, less the ones another node's lease holds and the ones this
// node failed and waits to retry. It forgets the retry waits of purges
// that are over.
func (m *Manager) duePurges(ctx context.Context, now time.Time) ([]string, error) {
	var due []string
	seen := map[string]bool{}
	err := m.eachPurge(ctx, func(p *purgeRecord) {
		seen[p.TenantID] = true
		if (p.ClearedAt == 0 || m.secondPassDue(p, now)) && !p.heldByOther(m.holder, now) && !m.retryLater(p.TenantID, now) {
			due = append(due, p.TenantID)
		}
	})
	if err != nil {
		return nil, err
	}
	m.purgeMu.Lock()
	for id := range m.retry {
		if !seen[id] {
			delete(m.retry, id)
		}
	}
	m.purgeMu.Unlock()
	return due, nil
}

// retryLater reports whether this node waits, at now, before trying again
// the failed purge of tenant idHex.
func (m *Manager) retryLater(idHex string, now time.Time) bool {
	m.purgeMu.Lock()
	defer m.purgeMu.Unlock()
	r, ok := m.retry[idHex]
	return ok && now.Before(r.next)
}

// FinishPurges starts, in the background, the purges this node should
// run at now (duePurges). Run calls it each sweep.
func (m *Manager) FinishPurges(ctx context.Context, now time.Time) error {
	due, err := m.duePurges(ctx, now)
	for _, id := range due {
		m.startPurge(id)
	}
	return err
}
