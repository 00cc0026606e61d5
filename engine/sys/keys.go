package sys

import (
	"context"
	"time"
)

// KeyStatus is the data of GET sys/key-status (Vault's handleKeyStatus):
// the active term, when it was installed, and the records it encrypted
// (counted since this node loaded the keyring).
func (s *Sys) KeyStatus() (map[string]any, error) {
	terms, n, err := s.Barrier.KeyStatus()
	if err != nil {
		return nil, err
	}
	active := terms[len(terms)-1]
	return map[string]any{
		"term":         active.Term,
		"install_time": active.Installed.Format(time.RFC3339Nano),
		"encryptions":  n,
	}, nil
}

// Rotate answers PUT sys/rotate: a new keyring term encrypts from now on.
func (s *Sys) Rotate(ctx context.Context) error {
	_, err := s.Barrier.Rotate(ctx)
	return err
}
