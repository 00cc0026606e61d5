package sys

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"math/big"
	"sync"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/shamir"
)

// otpLength is the length of a root token, and so of the one-time pad that
// encodes it: "srs." and 32 base62 characters.
const otpLength = len(token.Prefix) + 32

// GenerateRoot is the state of a sys/generate-root attempt of one tenant:
// a quorum of unseal keys (recovery keys in ModeAuto) yields a new root
// token, returned XORed with a one-time pad as Vault does. The zero value is
// ready to use.
type GenerateRoot struct {
	mu      sync.Mutex
	started bool
	nonce   string
	otp     string
	q       seal.Quorum
}

// GenerateRootInitRequest is the body of PUT sys/generate-root/attempt.
type GenerateRootInitRequest struct {
	OTP    string `json:"otp"`
	PGPKey string `json:"pgp_key"`
}

// GenerateRootUpdateRequest is the body of PUT sys/generate-root/update.
type GenerateRootUpdateRequest struct {
	Nonce string `json:"nonce"`
	Key   string `json:"key"`
}

// GenerateRootStatusResponse is api.GenerateRootStatusResponse.
type GenerateRootStatusResponse struct {
	Nonce            string `json:"nonce"`
	Started          bool   `json:"started"`
	Progress         int    `json:"progress"`
	Required         int    `json:"required"`
	Complete         bool   `json:"complete"`
	EncodedToken     string `json:"encoded_token"`
	EncodedRootToken string `json:"encoded_root_token"`
	PGPFingerprint   string `json:"pgp_fingerprint"`
	OTP              string `json:"otp"`
	OTPLength        int    `json:"otp_length"`
}

func (s *Sys) quorumThreshold(ctx context.Context) (int, error) {
	cfg, err := s.Barrier.Config(ctx)
	if err != nil {
		return 0, err
	}
	if cfg == nil {
		return 0, engine.Errorf(engine.ErrBadRequest, "server is not yet initialized")
	}
	if cfg.Type == seal.TypePKCS11 && !cfg.DualControl {
		return cfg.RecoveryThreshold, nil
	}
	return cfg.SecretThreshold, nil
}

// GenerateRootStatus answers GET sys/generate-root/attempt.
func (s *Sys) GenerateRootStatus(ctx context.Context) (*GenerateRootStatusResponse, error) {
	op := &s.genRoot
	t, err := s.quorumThreshold(ctx)
	if err != nil {
		return nil, err
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	progress, _ := op.q.Progress()
	st := &GenerateRootStatusResponse{Required: t, Progress: progress, OTPLength: otpLength}
	if op.started {
		st.Started, st.Nonce = true, op.nonce
	}
	return st, nil
}

// GenerateRootInit answers PUT sys/generate-root/attempt. Without an OTP the
// server makes one and returns it, as Vault 1.10+ does.
func (s *Sys) GenerateRootInit(ctx context.Context, req GenerateRootInitRequest) (*GenerateRootStatusResponse, error) {
	op := &s.genRoot
	if _, err := s.quorumThreshold(ctx); err != nil {
		return nil, err
	}
	if req.PGPKey != "" {
		return nil, engine.Errorf(engine.ErrBadRequest, "PGP-encrypted root tokens are not supported; use an OTP")
	}
	genned := false
	if req.OTP == "" {
		otp, err := randomBase62(otpLength)
		if err != nil {
			return nil, err
		}
		req.OTP, genned = otp, true
	}
	if len(req.OTP) != otpLength {
		return nil, engine.Errorf(engine.ErrBadRequest, "OTP string is wrong length")
	}
	op.mu.Lock()
	if op.started {
		op.mu.Unlock()
		return nil, engine.Errorf(engine.ErrBadRequest, "root generation already in progress")
	}
	op.started, op.nonce, op.otp = true, uuid.NewString(), req.OTP
	op.q.Reset()
	op.mu.Unlock()
	st, err := s.GenerateRootStatus(ctx)
	if err == nil && genned {
		st.OTP = req.OTP
	}
	return st, err
}

// GenerateRootCancel answers DELETE sys/generate-root/attempt.
func (s *Sys) GenerateRootCancel() {
	op := &s.genRoot
	op.mu.Lock()
	defer op.mu.Unlock()
	op.started, op.nonce, op.otp = false, "", ""
	op.q.Reset()
}

// GenerateRootUpdate answers PUT sys/generate-root/update: one key share; at
// the threshold the key is verified and a new root token is created, and
// returned encoded with the OTP: base64(token XOR otp), unpadded.
func (s *Sys) GenerateRootUpdate(ctx context.Context, req GenerateRootUpdateRequest) (*GenerateRootStatusResponse, error) {
	op := &s.genRoot
	t, err := s.quorumThreshold(ctx)
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, engine.Errorf(engine.ErrBadRequest, "'key' must be specified in request body as JSON")
	}
	share, err := shamir.ParseShare(req.Key)
	if err != nil {
		return nil, engine.Errorf(engine.ErrBadRequest, "'key' must be a valid hex or base64 string")
	}
	defer clear(share)
	op.mu.Lock()
	defer op.mu.Unlock()
	if !op.started {
		return nil, engine.Errorf(engine.ErrBadRequest, "no root generation in progress")
	}
	if subtle.ConstantTimeCompare([]byte(req.Nonce), []byte(op.nonce)) != 1 {
		return nil, engine.Errorf(engine.ErrBadRequest, "incorrect nonce")
	}
	x, err := op.q.Add(share, t)
	if err != nil {
		return nil, badKey(err)
	}
	progress, _ := op.q.Progress()
	st := &GenerateRootStatusResponse{Nonce: op.nonce, Started: true, Progress: progress, Required: t}
	if x == nil {
		return st, nil
	}
	defer x.Destroy()
	if err := s.Barrier.VerifyQuorumKey(ctx, x); err != nil {
		return nil, badKey(err)
	}
	var tok string
	err = s.Barrier.Update(ctx, func(tx *seal.Tx) error {
		var err error
		tok, err = token.CreateRoot(tx, s.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	enc := make([]byte, len(tok))
	subtle.XORBytes(enc, []byte(tok), []byte(op.otp))
	st.Progress, st.Complete = t, true
	st.EncodedToken = base64.RawStdEncoding.EncodeToString(enc)
	st.EncodedRootToken = st.EncodedToken
	op.started, op.nonce, op.otp = false, "", ""
	return st, nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randomBase62(n int) (string, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(base62)))
	for i := range out {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		out[i] = base62[v.Int64()]
	}
	return string(out), nil
}
