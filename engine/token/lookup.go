package token

import "time"

// LookupData is the data of auth/token/lookup-self and auth/token/lookup for
// tok, with the fields and types of Vault's token store (handleLookup in
// vault/token_store.go): integers in seconds, expire_time null for a token
// without TTL, orphan when the token has no parent.
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
	if e.TTL > 0 {
		created := time.Unix(e.CreationTime, 0)
		expire := created.Add(e.TTL)
		d["expire_time"] = expire.UTC().Format(time.RFC3339Nano)
		d["issue_time"] = created.UTC().Format(time.RFC3339Nano)
		d["ttl"] = int64(max(expire.Sub(now), 0).Seconds())
		d["renewable"] = true
	}
	return d
}
