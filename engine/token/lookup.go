package token

import (
	"time"
)

// LookupData is the data of auth/token/lookup(-self, -accessor) for an
// entry, with the fields and types of Vault's token store (handleLookup in
// vault/token_store.go): integers in seconds, expire_time null for a token
// without TTL, orphan when the token has no parent. tok is "" for a lookup
// by accessor, which does not reveal the token.
func LookupData(tok string, e *Entry, now time.Time) map[string]any {
	var meta any
	if len(e.Meta) > 0 {
		meta = e.Meta
	}
	d := map[string]any{
		"id":               tok,
		"accessor":         e.Accessor,
		"policies":         e.Policies,
		"path":             e.Path,
		"meta":             meta,
		"display_name":     e.DisplayName,
		"num_uses":         e.NumUses,
		"orphan":           len(e.Parent) == 0,
		"creation_time":    e.CreationTime,
		"creation_ttl":     int64(e.TTL.Seconds()),
		"expire_time":      nil,
		"ttl":              int64(0),
		"explicit_max_ttl": int64(e.ExplicitMaxTTL.Seconds()),
		"entity_id":        "",
		"type":             e.Type,
	}
	if e.Period > 0 {
		d["period"] = int64(e.Period.Seconds())
	}
	if e.Role != "" {
		d["role"] = e.Role
	}
	if len(e.BoundCIDRs) > 0 {
		// Vault's handleLookup adds bound_cidrs only when the token has them.
		d["bound_cidrs"] = e.BoundCIDRs
	}
	if e.ExpireTime != 0 {
		expire := time.Unix(e.ExpireTime, 0)
		if e.IssueTime != 0 {
			d["last_renewal_time"] = e.IssueTime
			d["last_renewal"] = time.Unix(e.IssueTime, 0).UTC().Format(time.RFC3339Nano)
		}
		d["expire_time"] = expire.UTC().Format(time.RFC3339Nano)
		d["issue_time"] = time.Unix(e.CreationTime, 0).UTC().Format(time.RFC3339Nano)
		// Vault's leaseEntry.ttl: the expiry less the clock rounded to the
		// second. Expiries are kept in whole seconds (the creation's
		// fraction dropped), which gives the same number as Vault's exact
		// expiry would: "1h" right after creation, "59m59s" once the
		// clock rounds past the creation's second.
		d["ttl"] = max(expire.Unix()-now.Round(time.Second).Unix(), 0)
		d["renewable"] = e.Renewable
	} else if e.Path != rootPath {
		// A non-expiring token made by auth/token/create (a root token's
		// root child) has a lease in Vault, never renewable: its lookup
		// shows renewable false and the issue time. The root token of
		// initialisation has none, and shows neither.
		d["renewable"] = false
		d["issue_time"] = time.Unix(e.CreationTime, 0).UTC().Format(time.RFC3339Nano)
	}
	return d
}
