package approle

import (
	"context"
	"reflect"
	"slices"
	"strings"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// role/<name>/<field>: Vault's per-field role paths (path_role.go,
// pathRole<Field>Read/Update/Delete). A read answers the field, as the
// role read shows it, and 404 for a missing role; a write sets it with the
// role write's checks, and is a 404 "unsupported path" for a missing role
// and a 400 "missing <field>" without the parameter; a delete restores
// the field's default and answers 204, also for a missing role, unless that
// leaves the role without a constraint (a 400; Vault's setRoleEntry answers
// 500). local-secret-ids is read only. The CIDR paths write nothing when
// given no parameter (Vault's pathRoleBoundCIDRUpdateCommon); bound-cidr-list
// is the deprecated name of secret-id-bound-cidrs, and reads as Vault's,
// null with a deprecation warning.

// roleField is one role/<name>/<field> path.
type roleField struct {
	// params are the parameters the path writes, the names of roleInput's
	// JSON fields; its read answers the same names, as the role read
	// (roleData) shows them, those the role read omits when unset omitted.
	params []string
	// missing is the 400 of a write that gives none of params.
	missing string
	// reset restores the field's default on delete; nil makes the path
	// read only.
	reset func(r *Role)
	// check, when set, refuses a write's value (after missing).
	check func(in *roleInput) error
	// legacy marks bound-cidr-list: its read answers bound_cidr_list null
	// with Vault's deprecation warning.
	legacy bool
}

// nonEmptyBlocks refuses an empty list for the role's login blocks: Vault
// clears them by delete only.
func nonEmptyBlocks(in *roleInput) error {
	for _, l := range []*stringList{in.SecretIDBoundCIDRs, in.BoundCIDRList} {
		if l != nil && len(*l) == 0 {
			return engine.Errorf(engine.ErrBadRequest, "missing bound_cidr_list")
		}
	}
	return nil
}

const msgBoundCIDRListDeprecated = `The "bound_cidr_list" field is deprecated and will be removed. Please use "secret_id_bound_cidrs" instead.`

var roleFields = map[string]roleField{
	"policies": {params: []string{"token_policies", "policies"}, missing: "missing token_policies",
		reset: func(r *Role) { r.TokenPolicies, r.Policies = nil, nil }},
	"bind-secret-id": {params: []string{"bind_secret_id"}, missing: "missing bind_secret_id",
		reset: func(r *Role) { r.BindSecretID = true }},
	"secret-id-num-uses": {params: []string{"secret_id_num_uses"}, missing: "missing secret_id_num_uses",
		reset: func(r *Role) { r.SecretIDNumUses = 0 }},
	"secret-id-ttl": {params: []string{"secret_id_ttl"}, missing: "missing secret_id_ttl",
		reset: func(r *Role) { r.SecretIDTTL = 0 }},
	"period": {params: []string{"token_period", "period"}, missing: "missing period",
		reset: func(r *Role) { r.TokenPeriod, r.Period = 0, 0 }},
	"token-num-uses": {params: []string{"token_num_uses"}, missing: "missing token_num_uses",
		reset: func(r *Role) { r.TokenNumUses = 0 }},
	"token-ttl": {params: []string{"token_ttl"}, missing: "missing token_ttl",
		reset: func(r *Role) { r.TokenTTL = 0 }},
	"token-max-ttl": {params: []string{"token_max_ttl"}, missing: "missing token_max_ttl",
		reset: func(r *Role) { r.TokenMaxTTL = 0 }},
	"local-secret-ids": {params: []string{"local_secret_ids"}},
	"secret-id-bound-cidrs": {params: []string{"secret_id_bound_cidrs"}, check: nonEmptyBlocks,
		reset: func(r *Role) { r.SecretIDBoundCIDRs = nil }},
	"bound-cidr-list": {params: []string{"bound_cidr_list"}, check: nonEmptyBlocks, legacy: true,
		reset: func(r *Role) { r.SecretIDBoundCIDRs = nil }},
	"token-bound-cidrs": {params: []string{"token_bound_cidrs"},
		reset: func(r *Role) { r.TokenBoundCIDRs = nil }},
}

// read answers the field's names from the role read's data.
func (f roleField) read(r *Role) map[string]any {
	all := roleData(r)
	out := make(map[string]any, len(f.params))
	for _, p := range f.params {
		if v, ok := all[p]; ok {
			out[p] = v
		}
	}
	return out
}

// take returns a roleInput holding only in's fields named in f.params,
// and whether in had any of them.
func (f roleField) take(in *roleInput) (roleInput, bool) {
	var out roleInput
	src, dst := reflect.ValueOf(in).Elem(), reflect.ValueOf(&out).Elem()
	found := false
	for i := range src.NumField() {
		name, _, _ := strings.Cut(src.Type().Field(i).Tag.Get("json"), ",")
		if slices.Contains(f.params, name) && !src.Field(i).IsNil() {
			dst.Field(i).Set(src.Field(i))
			found = true
		}
	}
	return out, found
}

// roleFieldOp serves role/<name>/<field> for a field of roleFields.
func (b *Backend) roleFieldOp(ctx context.Context, req *engine.Request, name string, f roleField) (*engine.Response, error) {
	switch {
	case req.Operation == engine.OpRead:
		r, err := b.existingRole(ctx, name)
		if err != nil {
			return nil, err
		}
		if f.legacy {
			return &engine.Response{Data: map[string]any{"bound_cidr_list": nil}, Warnings: []string{msgBoundCIDRListDeprecated}}, nil
		}
		return &engine.Response{Data: f.read(r)}, nil
	case req.Operation == engine.OpUpdate && f.reset != nil:
		var in roleInput
		if err := req.DecodeBody(&in, decode); err != nil {
			return nil, err
		}
		only, ok := f.take(&in)
		if !ok && f.missing != "" {
			return nil, engine.Errorf(engine.ErrBadRequest, "%s", f.missing)
		}
		if f.check != nil {
			if err := f.check(&only); err != nil {
				return nil, err
			}
		}
		return nil, b.writeRole(ctx, name, &only, true)
	case req.Operation == engine.OpDelete && f.reset != nil:
		return nil, b.view.Update(ctx, func(tx *seal.Tx) error {
			r, err := loadRole(&tx.ReadTx, name)
			if err != nil || r == nil {
				return err
			}
			f.reset(r)
			if !r.hasConstraint() {
				return engine.Errorf(engine.ErrBadRequest, "%s", msgNoConstraint)
			}
			return saveRole(tx, r)
		})
	}
	return nil, engine.ErrUnsupportedOperation
}
