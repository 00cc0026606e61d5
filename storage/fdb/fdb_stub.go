//go:build !fdb

package fdb

// OpenRaw is the stub of a binary built without the fdb build tag: after
// checking cfg (defaults applied), it returns ErrNotBuilt. Rebuild with
// -tags fdb, with libfdb_c and its headers installed, for the real backend.
func OpenRaw(cfg Config) (*DB, error) {
	if err := cfg.withDefaults().Validate(); err != nil {
		return nil, err
	}
	return nil, ErrNotBuilt
}
