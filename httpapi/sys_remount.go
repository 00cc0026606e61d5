package httpapi

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/mounts"
)

// sys/remount and sys/remount/status/<migration_id>: `vault secrets move`
// and `vault auth move` (Vault's handleRemount and
// handleRemountStatusCheck). Vault queues the move and reports its
// progress by migration ID; here a mount's records live under its UUID,
// so the move is one change of the mount table, done before the answer,
// and the status reads "success" at once.

// Mount paths Vault's handleRemount refuses to move from or to.
var (
	protectedMounts = []string{"audit/", "auth/", "sys/", "cubbyhole/", "identity/"}
	protectedAuths  = []string{"auth/token"}
)

// migrationInfo is Vault's MountMigrationInfo.
type migrationInfo struct {
	SourceMount string `json:"source_mount"`
	TargetMount string `json:"target_mount"`
	Status      string `json:"status"`
}

// migrationLog keeps recent moves for their status reads, each visible
// only in the namespace that made it.
type migrationLog struct {
	mu   sync.Mutex
	byID map[string]migration
}

type migration struct {
	tenant string
	info   migrationInfo
	at     time.Time
}

// Moves are remembered this long, and at most this many.
const (
	migrationKeep = time.Hour
	migrationMax  = 1000
)

func (l *migrationLog) add(tenant, id string, info migrationInfo, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = map[string]migration{}
	}
	for k, m := range l.byID {
		if now.Sub(m.at) > migrationKeep || len(l.byID) >= migrationMax {
			delete(l.byID, k)
		}
	}
	l.byID[id] = migration{tenant: tenant, info: info, at: now}
}

func (l *migrationLog) get(tenant, id string) (migrationInfo, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.byID[id]
	return m.info, ok && m.tenant == tenant
}

// sanitizeMountPath is Vault's sanitizePath: no leading slash, one
// trailing slash.
func sanitizeMountPath(p string) string {
	p = strings.TrimPrefix(p, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// POST sys/remount
func (s *Server) remount(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	var in struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := decodeJSON(r.body, &in); err != nil {
		return err
	}
	switch {
	case in.From == "" || in.To == "":
		return engine.Errorf(engine.ErrBadRequest, "both 'from' and 'to' path must be specified as a string")
	case strings.TrimSpace(in.From) != in.From:
		return engine.Errorf(engine.ErrBadRequest, "'from' path cannot contain trailing whitespace")
	case strings.TrimSpace(in.To) != in.To:
		return engine.Errorf(engine.ErrBadRequest, "'to' path cannot contain trailing whitespace")
	}
	from, to := sanitizeMountPath(in.From), sanitizeMountPath(in.To)
	table, src, dst := r.t.Mounts, from, to
	if strings.HasPrefix(from, "auth/") {
		if !strings.HasPrefix(to, "auth/") {
			return engine.Errorf(engine.ErrBadRequest, "cannot remount auth mount to non-auth mount %q", to)
		}
		for _, p := range protectedAuths {
			if strings.HasPrefix(from, p) {
				return engine.Errorf(engine.ErrBadRequest, "cannot remount %q", from)
			}
			if strings.HasPrefix(to, p) {
				return engine.Errorf(engine.ErrBadRequest, "cannot remount to destination %q", to)
			}
		}
		table, src, dst = r.t.Auths, strings.TrimPrefix(from, "auth/"), strings.TrimPrefix(to, "auth/")
	} else {
		for _, p := range protectedMounts {
			if strings.HasPrefix(from, p) {
				return engine.Errorf(engine.ErrBadRequest, "cannot remount %q", from)
			}
			if strings.HasPrefix(to, p) {
				return engine.Errorf(engine.ErrBadRequest, "cannot remount to destination %s", to)
			}
		}
	}
	if table == nil {
		return engine.Errorf(engine.ErrBadRequest, "no matching mount at %q", from)
	}
	if err := table.Remount(r.ctx, src, dst); err != nil {
		if errors.Is(err, mounts.ErrNoMount) {
			return engine.Errorf(engine.ErrBadRequest, "no matching mount at %q", from)
		}
		return mountError(err)
	}
	id := uuid.NewString()
	s.migrations.add(string(r.t.ID), id, migrationInfo{SourceMount: from, TargetMount: to, Status: "success"}, s.opts.Now())
	return respondData(c, r, map[string]any{"migration_id": id}, nil)
}

// GET sys/remount/status/<migration_id>
func (s *Server) remountStatus(c echo.Context, r *request) error {
	if err := s.check(c, r); err != nil {
		return err
	}
	id := strings.TrimPrefix(r.path, "sys/remount/status/")
	if id == "" {
		return engine.Errorf(engine.ErrBadRequest, "migrationID must be specified")
	}
	info, ok := s.migrations.get(string(r.t.ID), id)
	if !ok {
		return engine.ErrNotFound
	}
	return respondData(c, r, map[string]any{"migration_id": id, "migration_info": info}, nil)
}
