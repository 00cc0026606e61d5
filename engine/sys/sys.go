// Package sys answers the seal endpoints of Vault's sys/ backend for one
// tenant: sys/init, sys/seal-status, sys/unseal, sys/seal, sys/health and
// sys/leader. Their request and response shapes, messages and status codes
// are Vault's (vault/http/sys_init.go, sys_seal.go, sys_health.go,
// sys_leader.go, checked against OpenBao internal/http at df6ce2ce).
package sys

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/seal/shamir"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Sys serves the seal endpoints of one tenant.
type Sys struct {
	Barrier     *seal.Barrier
	StorageType string // reported by sys/seal-status, e.g. "bolt"
	Version     string
	BuildDate   string
	Now         func() time.Time
	// Probe, if set, checks that the node reaches its storage and HSM;
	// sys/health answers the sealed code while it fails (readiness).
	Probe func(ctx context.Context) error
	// OnSeal runs after the tenant is sealed, to drop what was loaded
	// through the barrier (the mount table and its engines).
	OnSeal []func()
	// SealEverywhere makes SealRequest seal the tenant on every node (a
	// namespace), not only on this one (the cluster), and hold it sealed
	// (seal.Tx.HoldSealed) until an unseal with its keys releases it.
	SealEverywhere bool
	// ModeFor, if set, maps sys/init's seal_type to the seal the tenant is
	// initialised with (a namespace chooses its seal at init); nil refuses
	// seal_type (the cluster's seal is configured, not chosen).
	ModeFor func(sealType string) (seal.Mode, error)

	clusterCache         atomic.Pointer[clusterInfo] // immutable once initialised
	rekey, recoveryRekey Rekey
	genRoot              GenerateRoot
}

// cluster identity, stored through the barrier at init.
type clusterInfo struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

var clusterKey = tuple.Pack("sys", "cluster")

// InitStatusResponse is the answer of GET sys/init.
type InitStatusResponse struct {
	Initialized bool `json:"initialized"`
}

// InitStatus answers GET sys/init.
func (s *Sys) InitStatus(ctx context.Context) (InitStatusResponse, error) {
	ok, err := s.Barrier.Initialized(ctx)
	return InitStatusResponse{Initialized: ok}, err
}

// InitRequest is the body of PUT sys/init, with Vault's field names.
type InitRequest struct {
	SecretShares      int      `json:"secret_shares"`
	SecretThreshold   int      `json:"secret_threshold"`
	PGPKeys           []string `json:"pgp_keys"`
	RecoveryShares    int      `json:"recovery_shares"`
	RecoveryThreshold int      `json:"recovery_threshold"`
	RecoveryPGPKeys   []string `json:"recovery_pgp_keys"`
	RootTokenPGPKey   string   `json:"root_token_pgp_key"`
	StoredShares      int      `json:"stored_shares"`
	// SealType chooses a namespace's seal: "shamir" or "auto" (Strongroom).
	SealType string `json:"seal_type"`
}

// InitResponse is the answer of PUT sys/init.
type InitResponse struct {
	Keys            []string `json:"keys"`
	KeysB64         []string `json:"keys_base64"`
	RecoveryKeys    []string `json:"recovery_keys,omitempty"`
	RecoveryKeysB64 []string `json:"recovery_keys_base64,omitempty"`
	RootToken       string   `json:"root_token"`
}

// Init answers PUT sys/init: it creates the root key, keyring, unseal keys
// and root token in one transaction. Errors: engine.ErrBadRequest (wrapping
// the reason) for parameters Vault refuses or that this seal does not
// support, seal.ErrAlreadyInitialized.
func (s *Sys) Init(ctx context.Context, req InitRequest) (*InitResponse, error) {
	mode := s.Barrier.Mode()
	if req.SealType != "" {
		if s.ModeFor == nil {
			return nil, engine.Errorf(engine.ErrBadRequest, "seal_type applies to namespaces only: the cluster's seal is set in its configuration")
		}
		m, err := s.ModeFor(req.SealType)
		if err != nil {
			return nil, err
		}
		mode = m
	}
	switch {
	case len(req.PGPKeys) != 0 || len(req.RecoveryPGPKeys) != 0 || req.RootTokenPGPKey != "":
		return nil, engine.Errorf(engine.ErrBadRequest, "PGP-encrypted keys are not supported")
	case req.StoredShares != 0 && mode != seal.ModeAuto:
		return nil, engine.Errorf(engine.ErrBadRequest, "stored_shares is not applicable to seal type %s", mode)
	}
	now := s.now()
	var rootToken string
	info, err := newClusterInfo()
	if err != nil {
		return nil, err
	}
	infoJSON, _ := json.Marshal(info)
	res, err := s.Barrier.Init(ctx, seal.InitRequest{
		Mode:         mode,
		SecretShares: req.SecretShares, SecretThreshold: req.SecretThreshold,
		RecoveryShares: req.RecoveryShares, RecoveryThreshold: req.RecoveryThreshold,
	},
		func(tx *seal.Tx) error {
			if err := tx.Set(clusterKey, infoJSON); err != nil {
				return err
			}
			var err error
			rootToken, err = token.CreateRoot(tx, now)
			return err
		})
	if err = badKey(err); err != nil {
		return nil, err
	}
	defer res.Wipe()
	out := &InitResponse{RootToken: rootToken, Keys: []string{}, KeysB64: []string{}}
	for _, k := range res.Shares {
		out.Keys = append(out.Keys, hex.EncodeToString(k))
		out.KeysB64 = append(out.KeysB64, base64.StdEncoding.EncodeToString(k))
	}
	for _, k := range res.RecoveryShares {
		out.RecoveryKeys = append(out.RecoveryKeys, hex.EncodeToString(k))
		out.RecoveryKeysB64 = append(out.RecoveryKeysB64, base64.StdEncoding.EncodeToString(k))
	}
	return out, nil
}

func newClusterInfo() (clusterInfo, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return clusterInfo{}, err
	}
	return clusterInfo{Name: fmt.Sprintf("strongroom-cluster-%x", b), ID: uuid.NewString()}, nil
}

// SealStatusResponse is the answer of sys/seal-status and sys/unseal
// (api.SealStatusResponse).
type SealStatusResponse struct {
	Type         string `json:"type"`
	Initialized  bool   `json:"initialized"`
	Sealed       bool   `json:"sealed"`
	T            int    `json:"t"`
	N            int    `json:"n"`
	Progress     int    `json:"progress"`
	Nonce        string `json:"nonce"`
	Version      string `json:"version"`
	BuildDate    string `json:"build_date"`
	Migration    bool   `json:"migration"`
	ClusterName  string `json:"cluster_name,omitempty"`
	ClusterID    string `json:"cluster_id,omitempty"`
	RecoverySeal bool   `json:"recovery_seal"`
	// RecoverySealType is "shamir" with a recovery seal (the recovery keys
	// are Shamir shares), as Vault's and OpenBao's auto seals report it;
	// `vault status` prints it as "Recovery Seal Type".
	RecoverySealType string `json:"recovery_seal_type,omitempty"`
	StorageType      string `json:"storage_type,omitempty"`
}

// SealStatus answers GET sys/seal-status.
func (s *Sys) SealStatus(ctx context.Context) (*SealStatusResponse, error) {
	st, err := s.Barrier.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &SealStatusResponse{
		Type: st.Type, Initialized: st.Initialized, Sealed: st.Sealed,
		T: st.Threshold, N: st.Shares, Progress: st.Progress, Nonce: st.Nonce,
		RecoverySeal: st.RecoverySeal, Migration: st.Migration, Version: s.Version, BuildDate: s.BuildDate, StorageType: s.StorageType,
	}
	if st.RecoverySeal {
		out.RecoverySealType = "shamir"
	}
	if !st.Sealed {
		if info, err := s.cluster(ctx); err == nil {
			out.ClusterName, out.ClusterID = info.Name, info.ID
		}
	}
	return out, nil
}

func (s *Sys) cluster(ctx context.Context) (clusterInfo, error) {
	if c := s.clusterCache.Load(); c != nil {
		return *c, nil
	}
	var info clusterInfo
	err := s.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		raw, err := tx.Get(clusterKey)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &info)
	})
	if err == nil {
		s.clusterCache.Store(&info)
	}
	return info, err
}

// UnsealRequest is the body of PUT sys/unseal. Vault's struct has no JSON
// tags; encoding/json matches "key" and "reset" case-insensitively, as there.
type UnsealRequest struct {
	Key     string `json:"key"`
	Reset   bool   `json:"reset"`
	Migrate bool   `json:"migrate"`
}

// Unseal answers PUT sys/unseal. Errors: engine.ErrBadRequest wrapping
// the reason (malformed, wrong or duplicate key, not initialised, reset while
// unsealed).
func (s *Sys) Unseal(ctx context.Context, req UnsealRequest) (*SealStatusResponse, error) {
	if req.Reset {
		if !s.Barrier.Sealed() {
			return nil, engine.Errorf(engine.ErrBadRequest, "vault is unsealed")
		}
		s.Barrier.ResetUnseal()
		return s.SealStatus(ctx)
	}
	if req.Key == "" {
		return nil, engine.Errorf(engine.ErrBadRequest, "'key' must be specified in request body as JSON, or 'reset' set to true")
	}
	key, err := shamir.ParseShare(req.Key)
	if err != nil {
		return nil, engine.Errorf(engine.ErrBadRequest, "'key' must be a valid hex or base64 string")
	}
	defer clear(key)
	_, err = s.Barrier.Unseal(ctx, key, req.Migrate)
	if err = badKey(err); err != nil {
		return nil, err
	}
	if s.SealEverywhere && !s.Barrier.Sealed() {
		// Unsealed by its operator: no longer held sealed.
		if err := s.Barrier.ReleaseHold(ctx); err != nil {
			return nil, err
		}
	}
	return s.SealStatus(ctx)
}

// SealRequest answers an authorised PUT sys/seal: it seals the tenant on
// this node and, with SealEverywhere, first records the seal (the tenant's
// seal epoch) so that every other node seals it within the coherence
// window. If that record cannot be written the tenant is still sealed
// here, and the error is returned.
func (s *Sys) SealRequest(ctx context.Context) error {
	var err error
	if s.SealEverywhere && !s.Barrier.Sealed() {
		err = s.Barrier.Update(ctx, func(tx *seal.Tx) error {
			if err := tx.HoldSealed(); err != nil {
				return err
			}
			return tx.BumpEpoch(seal.EpochSeal)
		})
	}
	s.Seal()
	return err
}

// Seal seals the tenant on this node and runs OnSeal. The caller has
// checked that the token may seal (sudo on sys/seal). Sealing a sealed
// tenant is not an error.
func (s *Sys) Seal() {
	s.Barrier.Seal()
	for _, f := range s.OnSeal {
		f()
	}
}

// LeaderResponse is the answer of GET sys/leader (api.LeaderResponse).
// Without HA, Vault and OpenBao answer only ha_enabled=false; the other
// fields are omitted when empty, as there.
type LeaderResponse struct {
	HAEnabled            bool       `json:"ha_enabled"`
	IsSelf               bool       `json:"is_self,omitempty"`
	ActiveTime           *time.Time `json:"active_time,omitempty"`
	LeaderAddress        string     `json:"leader_address,omitempty"`
	LeaderClusterAddress string     `json:"leader_cluster_address,omitempty"`
}

// Leader answers GET sys/leader. A single node has no HA, sealed or not.
func (s *Sys) Leader() *LeaderResponse { return &LeaderResponse{} }

func (s *Sys) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// badKey turns the seal's refusals of a key or request into bad requests;
// other errors pass unchanged.
func badKey(err error) error {
	for _, e := range []error{seal.ErrInvalidKey, seal.ErrDuplicateShare, seal.ErrNotInitialized,
		seal.ErrMigrationRequired, seal.ErrNoMigration, seal.ErrNoRecoveryKeys, seal.ErrInvalidConfig} {
		if errors.Is(err, e) {
			return engine.Errorf(engine.ErrBadRequest, "%w", err)
		}
	}
	return err
}
