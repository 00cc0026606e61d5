package token

import (
	"context"
	"encoding/json"
	"regexp"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/cidr"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Role is a token role (auth/token/roles/<name>, Vault's tsRoleEntry): the
// shape of the tokens create/<role> makes.
type Role struct {
	Name               string        `json:"name"`
	AllowedPolicies    []string      `json:"allowed_policies"`
	DisallowedPolicies []string      `json:"disallowed_policies"`
	Orphan             bool          `json:"orphan"`
	Period             time.Duration `json:"period"`
	Renewable          bool          `json:"renewable"`
	ExplicitMaxTTL     time.Duration `json:"explicit_max_ttl"`
	PathSuffix         string        `json:"path_suffix"`
	// TokenType is "default-service" (the default), "service", "batch" or
	// "default-batch" (Vault's role token_type); empty reads as
	// "default-service".
	TokenType string `json:"token_type,omitempty"`
	// LegacyPeriod and LegacyExplicitMaxTTL are what a read reports as
	// period and explicit_max_ttl, kept as Vault keeps the deprecated
	// fields (tokenutil.UpgradeValue): the value when a write named the
	// old field, zero when it named only token_period or
	// token_explicit_max_ttl. Period and ExplicitMaxTTL are what applies.
	LegacyPeriod         time.Duration `json:"legacy_period,omitempty"`
	LegacyExplicitMaxTTL time.Duration `json:"legacy_explicit_max_ttl,omitempty"`
	// BoundCIDRs bind the role's tokens to client addresses
	// (token_bound_cidrs; cidr.List strings); LegacyBoundCIDRs is what a
	// read reports as the deprecated bound_cidrs, set only by a write that
	// named that field (Vault's tsRoleEntry.BoundCIDRs).
	BoundCIDRs       []string `json:"token_bound_cidrs,omitempty"`
	LegacyBoundCIDRs []string `json:"legacy_bound_cidrs,omitempty"`
}

// tokenType is the role's token_type as a read reports it.
func (r *Role) tokenType() string {
	if r.TokenType == "" {
		return "default-service"
	}
	return r.TokenType
}

// roleInput is the body of a role write; absent fields keep their value.
type roleInput struct {
	AllowedPolicies     *StringList      `json:"allowed_policies"`
	DisallowedPolicies  *StringList      `json:"disallowed_policies"`
	Orphan              *engine.Bool     `json:"orphan"`
	Period              *engine.Duration `json:"period"`
	TokenPeriod         *engine.Duration `json:"token_period"`
	Renewable           *engine.Bool     `json:"renewable"`
	ExplicitMaxTTL      *engine.Duration `json:"explicit_max_ttl"`
	TokenExplicitMaxTTL *engine.Duration `json:"token_explicit_max_ttl"`
	PathSuffix          *string          `json:"path_suffix"`
	TokenType           *string          `json:"token_type"`
	TokenBoundCIDRs     *StringList      `json:"token_bound_cidrs"`
	BoundCIDRs          *StringList      `json:"bound_cidrs"`
}

var roleName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,128}$`)

func roleKey(name string) []byte { return tuple.Pack("token", "role", name) }

// role loads a role, or returns 400 "unknown role".
func (b *Backend) role(ctx context.Context, name string) (*Role, error) {
	var r *Role
	err := b.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		r, err = loadRole(tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, engine.Errorf(engine.ErrBadRequest, "unknown role %s", name)
	}
	return r, nil
}

func loadRole(tx *seal.ReadTx, name string) (*Role, error) {
	return seal.GetJSON[Role](tx, roleKey(name))
}

// data is the role as Vault's tokenStoreRoleRead answers it: token_bound_cidrs
// and bound_cidrs only when set, token_num_uses never (not offered),
// allowed_entity_aliases null, the deprecated period and explicit_max_ttl
// as UpgradeValue left them.
func (r *Role) data() map[string]any {
	d := map[string]any{
		"name": r.Name, "allowed_policies": nonNil(r.AllowedPolicies), "disallowed_policies": nonNil(r.DisallowedPolicies),
		"allowed_policies_glob": []string{}, "disallowed_policies_glob": []string{},
		"orphan": r.Orphan, "period": int64(r.LegacyPeriod.Seconds()), "token_period": int64(r.Period.Seconds()),
		"renewable": r.Renewable, "explicit_max_ttl": int64(r.LegacyExplicitMaxTTL.Seconds()),
		"token_explicit_max_ttl": int64(r.ExplicitMaxTTL.Seconds()), "path_suffix": r.PathSuffix,
		"token_type": r.tokenType(), "token_no_default_policy": false, "allowed_entity_aliases": nil,
	}
	if len(r.BoundCIDRs) > 0 {
		d["token_bound_cidrs"] = r.BoundCIDRs
	}
	if len(r.LegacyBoundCIDRs) > 0 {
		d["bound_cidrs"] = r.LegacyBoundCIDRs
	}
	return d
}

// ParseBoundCIDRs reads a token_bound_cidrs value as Vault's tokenutil
// does (address blocks or single addresses) into the strings a token or a
// role keeps; field names the parameter in the 400.
func ParseBoundCIDRs(field string, in []string) ([]string, error) {
	l, err := cidr.Parse(in, true)
	if err != nil {
		// Vault's words: tokenStoreRoleCreateUpdate's for the deprecated
		// field, pathRoleBoundCIDRUpdateCommon's for the others.
		verb := "failed to parse"
		if field == "bound_cidrs" {
			verb = "error parsing"
		}
		return nil, engine.Errorf(engine.ErrBadRequest, "%s %s: %v", verb, field, err)
	}
	return l.Strings(), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (b *Backend) roleOp(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	if !roleName.MatchString(name) {
		return nil, engine.Errorf(engine.ErrBadRequest, "invalid role name %q", name)
	}
	switch req.Operation {
	case engine.OpRead:
		r, err := b.role(ctx, name)
		if err != nil {
			return nil, engine.ErrNotFound
		}
		return &engine.Response{Data: r.data()}, nil
	case engine.OpDelete:
		return nil, b.Barrier.Update(ctx, func(tx *seal.Tx) error { return tx.Delete(roleKey(name)) })
	case engine.OpUpdate:
		var in roleInput
		if err := req.DecodeBody(&in, decode); err != nil {
			return nil, err
		}
		if in.TokenType != nil {
			switch *in.TokenType {
			case "service", "batch", "default-service", "default-batch":
			case "default":
				*in.TokenType = "default-service"
			default:
				return nil, engine.Errorf(engine.ErrBadRequest, "invalid 'token_type' value %q", *in.TokenType)
			}
		}
		var warnings []string
		var bound, legacyBound []string
		switch {
		case in.TokenBoundCIDRs != nil:
			var err error
			if bound, err = ParseBoundCIDRs("token_bound_cidrs", *in.TokenBoundCIDRs); err != nil {
				return nil, err
			}
			if in.BoundCIDRs != nil {
				warnings = append(warnings, "Both 'token_bound_cidrs' and deprecated 'bound_cidrs' value supplied, ignoring the deprecated value")
			}
		case in.BoundCIDRs != nil:
			var err error
			if legacyBound, err = ParseBoundCIDRs("bound_cidrs", *in.BoundCIDRs); err != nil {
				return nil, err
			}
			bound = legacyBound
		}
		err := b.Barrier.Update(ctx, func(tx *seal.Tx) error {
			r, err := loadRole(&tx.ReadTx, name)
			if err != nil {
				return err
			}
			if r == nil {
				r = &Role{Name: name, Renewable: true}
			}
			if in.AllowedPolicies != nil {
				r.AllowedPolicies = sanitize(*in.AllowedPolicies, false)
			}
			if in.DisallowedPolicies != nil {
				r.DisallowedPolicies = sanitize(*in.DisallowedPolicies, false)
			}
			if in.Orphan != nil {
				r.Orphan = bool(*in.Orphan)
			}
			r.Period, r.LegacyPeriod = engine.UpgradeDuration(in.Period, in.TokenPeriod, r.Period, r.LegacyPeriod)
			if in.Renewable != nil {
				r.Renewable = bool(*in.Renewable)
			}
			r.ExplicitMaxTTL, r.LegacyExplicitMaxTTL = engine.UpgradeDuration(in.ExplicitMaxTTL, in.TokenExplicitMaxTTL, r.ExplicitMaxTTL, r.LegacyExplicitMaxTTL)
			if in.PathSuffix != nil {
				r.PathSuffix = *in.PathSuffix
			}
			if in.TokenType != nil {
				r.TokenType = *in.TokenType
			}
			if in.TokenBoundCIDRs != nil || in.BoundCIDRs != nil {
				// Vault's tokenStoreRoleCreateUpdate: the new field
				// clears the deprecated one; the deprecated one sets both.
				r.BoundCIDRs, r.LegacyBoundCIDRs = bound, legacyBound
			}
			// Vault's checks of a batch role.
			if r.TokenType == "batch" {
				switch {
				case !r.Orphan:
					return engine.Errorf(engine.ErrBadRequest, "'token_type' cannot be 'batch' when role is set to generate non-orphan tokens")
				case r.Period != 0:
					return engine.Errorf(engine.ErrBadRequest, "'token_type' cannot be 'batch' when role is set to generate periodic tokens")
				case r.Renewable:
					return engine.Errorf(engine.ErrBadRequest, "'token_type' cannot be 'batch' when role is set to generate renewable tokens")
				case r.ExplicitMaxTTL != 0:
					return engine.Errorf(engine.ErrBadRequest, "'token_type' cannot be 'batch' when role is set to generate tokens with an explicit max TTL")
				}
			}
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			return tx.Set(roleKey(name), raw)
		})
		if err != nil || len(warnings) == 0 {
			return nil, err
		}
		return &engine.Response{Warnings: warnings}, nil
	}
	return nil, engine.ErrUnsupportedOperation
}

func (b *Backend) listRoles(ctx context.Context) (*engine.Response, error) {
	var names []string
	err := b.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		names, err = tx.ListNames(tuple.Pack("token", "role"))
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, engine.ErrNotFound
	}
	return &engine.Response{Data: map[string]any{"keys": names}}, nil
}
