package sys

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// The version history (Vault's core/versions records and
// handleVersionHistoryList): each server version that ever served the
// cluster unsealed, with the time it first did so.

type versionRecord struct {
	Installed time.Time `json:"timestamp_installed"`
	BuildDate string    `json:"build_date"`
}

func versionsPrefix() []byte     { return tuple.Pack("sys", "versions") }
func versionKey(v string) []byte { return tuple.Pack("sys", "versions", v) }

// RecordVersion records s.Version in the version history with the
// current time, unless it is there already. The server calls it once the
// cluster is unsealed; it writes only the first time a version runs.
func (s *Sys) RecordVersion(ctx context.Context) error {
	if s.Version == "" {
		return nil
	}
	var found bool
	err := s.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		_, err := tx.Get(versionKey(s.Version))
		found = err == nil
		if errors.Is(err, seal.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil || found {
		return err
	}
	return s.Barrier.Update(ctx, func(tx *seal.Tx) error {
		if _, err := tx.Get(versionKey(s.Version)); err == nil {
			return nil // another node was first
		} else if !errors.Is(err, seal.ErrNotFound) {
			return err
		}
		raw, err := json.Marshal(versionRecord{Installed: s.now().UTC(), BuildDate: s.BuildDate})
		if err != nil {
			return err
		}
		return tx.Set(versionKey(s.Version), raw)
	})
}

// VersionHistory answers LIST sys/version-history: the versions, oldest
// installation first, and for each its installation time (RFC 3339), build
// date and the version before it (null for the first).
func (s *Sys) VersionHistory(ctx context.Context) (map[string]any, error) {
	if err := s.RecordVersion(ctx); err != nil {
		return nil, err
	}
	type entry struct {
		version string
		rec     versionRecord
	}
	var all []entry
	err := s.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		names, err := tx.ListNames(versionsPrefix())
		if err != nil {
			return err
		}
		for _, n := range names {
			r, err := seal.GetJSON[versionRecord](tx, versionKey(n))
			if err != nil {
				return err
			}
			if r != nil {
				all = append(all, entry{n, *r})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].rec.Installed.Before(all[j].rec.Installed) })
	keys := make([]string, 0, len(all))
	info := make(map[string]any, len(all))
	for i, e := range all {
		var prev any
		if i > 0 {
			prev = all[i-1].version
		}
		keys = append(keys, e.version)
		info[e.version] = map[string]any{
			"timestamp_installed": e.rec.Installed.Format(time.RFC3339),
			"build_date":          e.rec.BuildDate,
			"previous_version":    prev,
		}
	}
	return map[string]any{"keys": keys, "key_info": info}, nil
}
