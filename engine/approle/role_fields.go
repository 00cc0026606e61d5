package approle

import (
	"context"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// role/<name>/<field>: Vault's per-field role paths (path_role.go,
// pathRole<Field>Read/Update/Delete). A read answers the field, as the
// role read shows it, and 404 for a missing role; a write sets it with the
// role write's checks, and is a 404 "unsupported path" for a missing role
// and a 400 "missing <field>" without the parameter; a delete restores
// the field's default and answers 204, also for a missing role.
// local-secret-ids is read only. The CIDR-binding paths are not served:
// Strongroom's AppRole does not bind CIDRs.

// roleField is one role/<name>/<field> path.
type roleField struct {
	// missing is the 400 of a write without the field's parameter.
	missing string
	// take copies from a decoded body the parameters the path takes, and
	// reports whether one is there; nil makes the path read only.
	take  func(in, out *roleInput) bool
	read  func(r *Role) map[string]any
	reset func(r *Role)
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

var roleFields = map[string]roleField{
	"policies": {
		missing: "missing token_policies",
		take: func(in, out *roleInput) bool {
			out.TokenPolicies, out.Policies = in.TokenPolicies, in.Policies
			return in.TokenPolicies != nil || in.Policies != nil
		},
		read: func(r *Role) map[string]any {
			p := r.TokenPolicies
			if p == nil {
				p = []string{}
			}
			d := map[string]any{"token_policies": p}
			if len(r.Policies) > 0 {
				d["policies"] = r.Policies
			}
			return d
		},
		reset: func(r *Role) { r.TokenPolicies, r.Policies = nil, nil },
	},
	"bind-secret-id": {
		missing: "missing bind_secret_id",
		take:    func(in, out *roleInput) bool { out.BindSecretID = in.BindSecretID; return in.BindSecretID != nil },
		read:    func(r *Role) map[string]any { return map[string]any{"bind_secret_id": r.BindSecretID} },
		reset:   func(r *Role) { r.BindSecretID = true },
	},
	"secret-id-num-uses": {
		missing: "missing secret_id_num_uses",
		take: func(in, out *roleInput) bool {
			out.SecretIDNumUses = in.SecretIDNumUses
			return in.SecretIDNumUses != nil
		},
		read:  func(r *Role) map[string]any { return map[string]any{"secret_id_num_uses": r.SecretIDNumUses} },
		reset: func(r *Role) { r.SecretIDNumUses = 0 },
	},
	"secret-id-ttl": {
		missing: "missing secret_id_ttl",
		take:    func(in, out *roleInput) bool { out.SecretIDTTL = in.SecretIDTTL; return in.SecretIDTTL != nil },
		read:    func(r *Role) map[string]any { return map[string]any{"secret_id_ttl": seconds(r.SecretIDTTL)} },
		reset:   func(r *Role) { r.SecretIDTTL = 0 },
	},
	"period": {
		missing: "missing period",
		take: func(in, out *roleInput) bool {
			out.TokenPeriod, out.Period = in.TokenPeriod, in.Period
			return in.TokenPeriod != nil || in.Period != nil
		},
		read: func(r *Role) map[string]any {
			d := map[string]any{"token_period": seconds(r.TokenPeriod)}
			if r.Period > 0 {
				d["period"] = seconds(r.Period)
			}
			return d
		},
		reset: func(r *Role) { r.TokenPeriod, r.Period = 0, 0 },
	},
	"token-num-uses": {
		missing: "missing token_num_uses",
		take:    func(in, out *roleInput) bool { out.TokenNumUses = in.TokenNumUses; return in.TokenNumUses != nil },
		read:    func(r *Role) map[string]any { return map[string]any{"token_num_uses": r.TokenNumUses} },
		reset:   func(r *Role) { r.TokenNumUses = 0 },
	},
	"token-ttl": {
		missing: "missing token_ttl",
		take:    func(in, out *roleInput) bool { out.TokenTTL = in.TokenTTL; return in.TokenTTL != nil },
		read:    func(r *Role) map[string]any { return map[string]any{"token_ttl": seconds(r.TokenTTL)} },
		reset:   func(r *Role) { r.TokenTTL = 0 },
	},
	"token-max-ttl": {
		missing: "missing token_max_ttl",
		take:    func(in, out *roleInput) bool { out.TokenMaxTTL = in.TokenMaxTTL; return in.TokenMaxTTL != nil },
		read:    func(r *Role) map[string]any { return map[string]any{"token_max_ttl": seconds(r.TokenMaxTTL)} },
		reset:   func(r *Role) { r.TokenMaxTTL = 0 },
	},
	"local-secret-ids": {
		read: func(*Role) map[string]any { return map[string]any{"local_secret_ids": false} },
	},
}

// roleFieldOp serves role/<name>/<field> for a field of roleFields.
func (b *Backend) roleFieldOp(ctx context.Context, req *engine.Request, name string, f roleField) (*engine.Response, error) {
	switch {
	case req.Operation == engine.OpRead:
		r, err := b.existingRole(ctx, name)
		if err != nil {
			return nil, err
		}
		return &engine.Response{Data: f.read(r)}, nil
	case req.Operation == engine.OpUpdate && f.take != nil:
		var in, only roleInput
		if err := req.DecodeBody(&in, decode); err != nil {
			return nil, err
		}
		if !f.take(&in, &only) {
			return nil, engine.Errorf(engine.ErrBadRequest, "%s", f.missing)
		}
		return nil, b.writeRole(ctx, name, &only, true)
	case req.Operation == engine.OpDelete && f.reset != nil:
		return nil, b.view.Update(ctx, func(tx *seal.Tx) error {
			r, err := loadRole(&tx.ReadTx, name)
			if err != nil || r == nil {
				return err
			}
			f.reset(r)
			return saveRole(tx, r)
		})
	}
	return nil, engine.ErrUnsupportedOperation
}
