package sys

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"sync"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/shamir"
)

// Rekey is the state of the sys/rekey (unseal keys) or sys/rekey-recovery-key
// (recovery keys) operation of one tenant: at most one attempt at a time,
// named by a nonce, collecting a quorum of the current keys (Vault's
// vault/rekey.go semantics). The zero value is ready to use.
type Rekey struct {
	mu        sync.Mutex
	started   bool
	nonce     string
	shares    int
	threshold int
	q         seal.Quorum
}

// RekeyRequest is the body of PUT sys/rekey/init.
type RekeyRequest struct {
	SecretShares        int      `json:"secret_shares"`
	SecretThreshold     int      `json:"secret_threshold"`
	PGPKeys             []string `json:"pgp_keys"`
	Backup              bool     `json:"backup"`
	RequireVerification bool     `json:"require_verification"`
}

// RekeyStatusResponse is the answer of sys/rekey/init (api.RekeyStatusResponse).
type RekeyStatusResponse struct {
	Nonce                string   `json:"nonce"`
	Started              bool     `json:"started"`
	T                    int      `json:"t"`
	N                    int      `json:"n"`
	Progress             int      `json:"progress"`
	Required             int      `json:"required"`
	PGPFingerprints      []string `json:"pgp_fingerprints"`
	Backup               bool     `json:"backup"`
	VerificationRequired bool     `json:"verification_required"`
}

// RekeyUpdateRequest is the body of PUT sys/rekey/update.
type RekeyUpdateRequest struct {
	Nonce string `json:"nonce"`
	Key   string `json:"key"`
}

// RekeyUpdateResponse is the answer of sys/rekey/update once complete.
type RekeyUpdateResponse struct {
	Nonce                string   `json:"nonce"`
	Complete             bool     `json:"complete"`
	Keys                 []string `json:"keys"`
	KeysB64              []string `json:"keys_base64"`
	PGPFingerprints      []string `json:"pgp_fingerprints"`
	Backup               bool     `json:"backup"`
	VerificationRequired bool     `json:"verification_required"`
}

// checkRekeyTarget refuses a rekey of the wrong kind of keys: recovery keys
// exist only in ModeAuto, and there they replace unseal keys.
func (s *Sys) checkRekeyTarget(ctx context.Context, recovery bool) (*seal.Config, error) {
	cfg, err := s.Barrier.Config(ctx)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, engine.Errorf(engine.ErrBadRequest, "server is not yet initialized")
	}
	auto := cfg.RecoveryShares > 0 || (cfg.Type == seal.TypePKCS11 && !cfg.DualControl)
	switch {
	case recovery && !auto:
		return nil, engine.Errorf(engine.ErrBadRequest, "recovery rekeying not supported")
	case !recovery && auto:
		return nil, engine.Errorf(engine.ErrBadRequest, "this seal has recovery keys and no unseal keys; rekey them with sys/rekey-recovery-key")
	}
	return cfg, nil
}

func required(cfg *seal.Config, recovery bool) int {
	if recovery {
		return cfg.RecoveryThreshold
	}
	return cfg.SecretThreshold
}

// RekeyStatus answers GET sys/rekey/init.
func (s *Sys) RekeyStatus(ctx context.Context, recovery bool) (*RekeyStatusResponse, error) {
	op := s.rekeyOp(recovery)
	cfg, err := s.checkRekeyTarget(ctx, recovery)
	if err != nil {
		return nil, err
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	st := &RekeyStatusResponse{Required: required(cfg, recovery)}
	if op.started {
		progress, _ := op.q.Progress()
		st.Started, st.Nonce, st.T, st.N, st.Progress = true, op.nonce, op.threshold, op.shares, progress
	}
	return st, nil
}

// RekeyInit answers PUT sys/rekey/init: it starts an attempt with the new
// share configuration.
func (s *Sys) RekeyInit(ctx context.Context, recovery bool, req RekeyRequest) (*RekeyStatusResponse, error) {
	op := s.rekeyOp(recovery)
	if _, err := s.checkRekeyTarget(ctx, recovery); err != nil {
		return nil, err
	}
	switch {
	case len(req.PGPKeys) > 0 || req.Backup:
		return nil, engine.Errorf(engine.ErrBadRequest, "PGP-encrypted keys and key backups are not supported")
	case req.RequireVerification:
		return nil, engine.Errorf(engine.ErrBadRequest, "require_verification is not supported")
	}
	if err := badKey(seal.InitRequest{SecretShares: req.SecretShares, SecretThreshold: req.SecretThreshold}.Validate(seal.ModeShamir)); err != nil {
		return nil, err
	}
	if s.Barrier.Sealed() {
		return nil, seal.ErrSealed
	}
	op.mu.Lock()
	if op.started {
		op.mu.Unlock()
		return nil, engine.Errorf(engine.ErrBadRequest, "rekey already in progress")
	}
	op.started, op.nonce, op.shares, op.threshold = true, uuid.NewString(), req.SecretShares, req.SecretThreshold
	op.q.Reset()
	op.mu.Unlock()
	return s.RekeyStatus(ctx, recovery)
}

// RekeyCancel answers DELETE sys/rekey/init.
func (s *Sys) RekeyCancel(recovery bool) {
	op := s.rekeyOp(recovery)
	op.mu.Lock()
	defer op.mu.Unlock()
	op.started, op.nonce = false, ""
	op.q.Reset()
}

// RekeyUpdate answers PUT sys/rekey/update: it records one current key
// share; at the threshold it replaces the keys and returns the new ones. A
// wrong set of keys ends with 400 and resets the progress.
func (s *Sys) RekeyUpdate(ctx context.Context, recovery bool, req RekeyUpdateRequest) (*RekeyUpdateResponse, *RekeyStatusResponse, error) {
	op := s.rekeyOp(recovery)
	cfg, err := s.checkRekeyTarget(ctx, recovery)
	if err != nil {
		return nil, nil, err
	}
	if s.Barrier.Sealed() {
		return nil, nil, seal.ErrSealed
	}
	if req.Key == "" {
		return nil, nil, engine.Errorf(engine.ErrBadRequest, "'key' must be specified in request body as JSON")
	}
	share, err := shamir.ParseShare(req.Key)
	if err != nil {
		return nil, nil, engine.Errorf(engine.ErrBadRequest, "'key' must be a valid hex or base64 string")
	}
	defer clear(share)
	op.mu.Lock()
	if !op.started {
		op.mu.Unlock()
		return nil, nil, engine.Errorf(engine.ErrBadRequest, "no rekey in progress")
	}
	if req.Nonce != op.nonce {
		op.mu.Unlock()
		return nil, nil, engine.Errorf(engine.ErrBadRequest, "incorrect nonce supplied; nonce for this rekey operation is %q", op.nonce)
	}
	x, err := op.q.Add(share, required(cfg, recovery))
	if err != nil || x == nil {
		op.mu.Unlock()
		if err = badKey(err); err != nil {
			return nil, nil, err
		}
		st, err := s.RekeyStatus(ctx, recovery)
		return nil, st, err
	}
	defer x.Destroy()
	shares, threshold, nonce := op.shares, op.threshold, op.nonce
	keys, err := s.Barrier.Rekey(ctx, x, shares, threshold)
	if err == nil {
		op.started, op.nonce = false, ""
	}
	op.mu.Unlock()
	if err = badKey(err); err != nil {
		return nil, nil, err
	}
	out := &RekeyUpdateResponse{Nonce: nonce, Complete: true, Keys: []string{}, KeysB64: []string{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, hex.EncodeToString(k))
		out.KeysB64 = append(out.KeysB64, base64.StdEncoding.EncodeToString(k))
		clear(k)
	}
	return out, nil, nil
}

// rekeyOp returns the tenant's rekey attempt of unseal or recovery keys.
func (s *Sys) rekeyOp(recovery bool) *Rekey {
	if recovery {
		return &s.recoveryRekey
	}
	return &s.rekey
}
