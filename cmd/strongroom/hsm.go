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
// and logging why. When the stored seal already depends on the HSM, the
// master key must exist: a missing key there is never cured by generating a
// new one, and the start stops.
func openHSM(ctx context.Context, cfg hsm.Config, stored func(context.Context) (*seal.Config, error), logger *slog.Logger) (*hsm.HSM, error) {
	wait := hsmRetryMin
	for {
		h, err := hsm.Open(ctx, cfg)
		if err == nil {
			sc, serr := stored(ctx)
			if serr != nil {
				h.Close()
				return nil, serr
			}
			if sc == nil || !sc.UsesHSM() {
				return h, nil
			}
			if err = h.FindKey(ctx); err == nil {
				return h, nil
			}
			h.Close()
			if errors.Is(err, hsm.ErrKeyNotFound) {
				return nil, fmt.Errorf("the store's root key is wrapped by the HSM master key %q, which is not on the token; refusing to start (a new key would not open this store): %w", cfg.KeyLabel, err)
			}
		}
		if fatalHSM(err) {
			return nil, err
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
