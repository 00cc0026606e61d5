package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/seal"
)

// hsmSlot holds the HSM once it is open. Until then the seal sees a
// Wrapper whose calls fail with hsm.ErrUnavailable, so the node listens and
// answers sys/health (sealed) while the HSM is still being reached.
type hsmSlot struct{ h atomic.Pointer[hsm.HSM] }

var _ seal.Wrapper = (*hsmSlot)(nil)

var errHSMNotOpen = fmt.Errorf("%w: the HSM is not open yet", hsm.ErrUnavailable)

func (s *hsmSlot) Wrap(ctx context.Context, pt, aad []byte) ([]byte, error) {
	if h := s.h.Load(); h != nil {
		return h.Wrap(ctx, pt, aad)
	}
	return nil, errHSMNotOpen
}

func (s *hsmSlot) Unwrap(ctx context.Context, blob, aad []byte) ([]byte, error) {
	if h := s.h.Load(); h != nil {
		return h.Unwrap(ctx, blob, aad)
	}
	return nil, errHSMNotOpen
}

// The tenants' keys (tenant.NamedHSM): one key per namespace on the token.

// CreateNamedKey creates the key labelled label, a label never used before.
func (s *hsmSlot) CreateNamedKey(ctx context.Context, label string) error {
	if h := s.h.Load(); h != nil {
		return h.CreateNamedKey(ctx, label)
	}
	return errHSMNotOpen
}

func (s *hsmSlot) WrapNamed(ctx context.Context, label string, pt, aad []byte) ([]byte, error) {
	if h := s.h.Load(); h != nil {
		return h.WrapNamed(ctx, label, pt, aad)
	}
	return nil, errHSMNotOpen
}

func (s *hsmSlot) UnwrapNamed(ctx context.Context, label string, blob, aad []byte) ([]byte, error) {
	if h := s.h.Load(); h != nil {
		return h.UnwrapNamed(ctx, label, blob, aad)
	}
	return nil, errHSMNotOpen
}

func (s *hsmSlot) DestroyNamedKey(ctx context.Context, label string) error {
	if h := s.h.Load(); h != nil {
		return h.DestroyNamedKey(ctx, label)
	}
	return errHSMNotOpen
}

// ensureKey finds the master key, generating it if permitted. The seal
// calls it (Options.PrepareHSM) before it first puts a root key under the
// HSM: at init, or at a migration onto the HSM.
func (s *hsmSlot) ensureKey(ctx context.Context) error {
	h := s.h.Load()
	if h == nil {
		return errHSMNotOpen
	}
	return h.EnsureKey(ctx, true)
}

// fatalHSM reports errors that no retry can cure: the configuration is
// wrong, so the start stops with a clear message.
func fatalHSM(err error) bool {
	if errors.Is(err, hsm.ErrUnavailable) {
		return false // the token may come back
	}
	for _, e := range []error{hsm.ErrPINIncorrect, hsm.ErrLibrary, hsm.ErrInvalid, hsm.ErrDuplicateKey, hsm.ErrKeyUnsuitable, hsm.ErrKeyNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Backoff between attempts to reach the HSM at start.
const (
	hsmRetryMin = 250 * time.Millisecond
	hsmRetryMax = 30 * time.Second
)

// openHSM opens the HSM, retrying with backoff while the token is absent
// and logging why. Errors no retry can cure stop the start (see fatalHSM).
func openHSM(ctx context.Context, cfg hsm.Config, stored func(context.Context) (*seal.Config, error), logger *slog.Logger) (*hsm.HSM, error) {
	wait := hsmRetryMin
	for {
		h, err := tryOpenHSM(ctx, cfg, stored)
		if err == nil || fatalHSM(err) {
			return h, err
		}
		logger.Warn("HSM unavailable; retrying", "error", err.Error(), "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("HSM unavailable at shutdown: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, hsmRetryMax)
	}
}

// tryOpenHSM opens the HSM once and checks its master key. When the stored
// seal already depends on the HSM, or generate_key is false, the key must
// be on the token: a missing key on a store that depends on it is never
// cured by generating a new one.
func tryOpenHSM(ctx context.Context, cfg hsm.Config, stored func(context.Context) (*seal.Config, error)) (*hsm.HSM, error) {
	h, err := hsm.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sc, err := stored(ctx)
	if err != nil {
		h.Close()
		return nil, err
	}
	dependsOnKey := sc != nil && sc.UsesHSM()
	if !dependsOnKey && cfg.GenerateKey {
		return h, nil // found or generated when the seal first needs it
	}
	err = h.FindKey(ctx)
	if err == nil {
		return h, nil
	}
	h.Close()
	switch {
	case errors.Is(err, hsm.ErrKeyNotFound) && dependsOnKey:
		return nil, fmt.Errorf("the store's root key is wrapped by the HSM master key %q, which is not on the token; refusing to start (a new key would not open this store): %w", cfg.KeyLabel, err)
	case errors.Is(err, hsm.ErrKeyNotFound):
		return nil, fmt.Errorf("the HSM master key %q is not on the token and generate_key is false: %w", cfg.KeyLabel, err)
	}
	return nil, err
}

// autoUnseal unseals the root tenant through the HSM, retrying with backoff
// while the HSM fails.
func autoUnseal(ctx context.Context, b *seal.Barrier, logger *slog.Logger) {
	wait := hsmRetryMin
	for {
		start := time.Now()
		ok, err := b.AutoUnseal(ctx)
		if err == nil {
			if ok {
				logger.Info("unsealed through the HSM", "duration", time.Since(start).String())
			}
			return
		}
		logger.Warn("auto-unseal failed; retrying", "error", err.Error(), "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, hsmRetryMax)
	}
}
