// Package approle is the AppRole auth method (Vault's
// builtin/credential/approle): roles with a role ID and secret IDs, and a
// login that trades them for a token. Secret IDs are stored only as keyed
// hashes; the token is created in the tenant's token store in the same
// transaction that counts the secret ID's use.
package approle

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/cidr"
	"github.com/strongroom/strongroom/engine/mounts"
	"github.com/strongroom/strongroom/engine/token"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Backend serves one AppRole mount.
type Backend struct {
	view *seal.View
	path string // the mount path below auth/, e.g. "approle/"
	now  func() time.Time
	// defaultTTL and maxTTL are the mount's lease TTLs (`vault auth
	// tune`); 0 means the system's.
	defaultTTL, maxTTL time.Duration
}

// Factory builds the backend of an approle mount; logins use the mount's
// tuned lease TTLs (the table builds a new backend when they change).
func Factory(e *mounts.Entry, view *seal.View) (engine.Backend, error) {
	return &Backend{view: view, path: e.Path, now: time.Now,
		defaultTTL: time.Duration(e.Config.DefaultLeaseTTL) * time.Second,
		maxTTL:     time.Duration(e.Config.MaxLeaseTTL) * time.Second}, nil
}

// Role is an AppRole role (Vault's roleStorageEntry, the fields we keep).
type Role struct {
	Name          string        `json:"name"`
	RoleID        string        `json:"role_id"`
	BindSecretID  bool          `json:"bind_secret_id"`
	TokenPolicies []string      `json:"token_policies"`
	TokenTTL      time.Duration `json:"token_ttl"`
	TokenMaxTTL   time.Duration `json:"token_max_ttl"`
	TokenPeriod   time.Duration `json:"token_period"`
	// Policies and Period are the legacy fields as Vault keeps them
	// (tokenutil.UpgradeValue): set to the token_ field's value when a
	// request named the legacy field, cleared when it named only the new
	// one. A role read reports them only when set.
	Policies     []string      `json:"policies,omitempty"`
	Period       time.Duration `json:"period,omitempty"`
	TokenNumUses int           `json:"token_num_uses"`
	// TokenType is "default" (service tokens), "service", "batch" or
	// "default-batch" (batch tokens): Vault's tokenutil token_type. Empty
	// reads as "default".
	TokenType       string        `json:"token_type,omitempty"`
	SecretIDTTL     time.Duration `json:"secret_id_ttl"`
	SecretIDNumUses int           `json:"secret_id_num_uses"`
	// SecretIDBoundCIDRs are the address blocks logins must come from
	// (secret_id_bound_cidrs, kept as written); TokenBoundCIDRs bind the
	// tokens it issues (token.Entry.BoundCIDRs).
	SecretIDBoundCIDRs []string `json:"secret_id_bound_cidrs,omitempty"`
	TokenBoundCIDRs    []string `json:"token_bound_cidrs,omitempty"`
	// TokenNoDefaultPolicy leaves "default" off its tokens' policies;
	// TokenExplicitMaxTTL caps their life, renewals included.
	TokenNoDefaultPolicy bool          `json:"token_no_default_policy,omitempty"`
	TokenExplicitMaxTTL  time.Duration `json:"token_explicit_max_ttl,omitempty"`
}

// hasConstraint is Vault's validateRoleConstraints: a login must need a
// secret ID or come from bound addresses.
func (r *Role) hasConstraint() bool {
	return r.BindSecretID || len(r.SecretIDBoundCIDRs) > 0 || len(r.TokenBoundCIDRs) > 0
}

// tokenType is the role's token_type as a read reports it.
func (r *Role) tokenType() string {
	if r.TokenType == "" {
		return "default"
	}
	return r.TokenType
}

// batch reports whether the role's logins issue batch tokens.
func (r *Role) batch() bool { return r.TokenType == "batch" || r.TokenType == "default-batch" }

// SecretID is a stored secret ID (found by keyed hash; the ID itself is
// not kept).
type SecretID struct {
	Accessor       string            `json:"secret_id_accessor"`
	NumUses        int               `json:"secret_id_num_uses"`
	TTL            time.Duration     `json:"secret_id_ttl"`
	CreationTime   time.Time         `json:"creation_time"`
	ExpirationTime time.Time         `json:"expiration_time"`
	LastUpdated    time.Time         `json:"last_updated_time"`
	Metadata       map[string]string `json:"metadata"`
	// CIDRList binds logins with this secret ID to address blocks (a
	// subset of the role's secret_id_bound_cidrs); TokenBoundCIDRs, when
	// set, bind the tokens it logs in to instead of the role's.
	CIDRList        []string `json:"cidr_list,omitempty"`
	TokenBoundCIDRs []string `json:"token_bound_cidrs,omitempty"`
}

func roleKey(name string) []byte                { return tuple.Pack("role", name) }
func roleIDKey(hash []byte) []byte              { return tuple.Pack("role_id", hash) }
func secretKey(role string, hash []byte) []byte { return tuple.Pack("secret", role, hash) }
func accessorKey(role, acc string) []byte       { return tuple.Pack("accessor", role, acc) }

var roleNameRE = regexp.MustCompile(`^[\w.@-]{1,128}$`)

// stringList reads a JSON list of strings or a comma-separated string
// (token.StringList); engine.Bool and engine.Int read the other loosely
// typed fields: the CLI sends key=value pairs as strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var t token.StringList
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	*l = stringList(t)
	return nil
}

func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var ee *engine.Error
		if errors.As(err, &ee) {
			return err
		}
		return engine.Errorf(engine.ErrBadRequest, "failed to parse JSON input: invalid request body")
	}
	return nil
}

// HandleRequest routes auth/<mount>/<path>.
func (b *Backend) HandleRequest(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	p := req.Path
	switch {
	case p == "login" && req.Operation == engine.OpUpdate:
		return b.login(ctx, req)
	case (p == "role" || p == "role/") && req.Operation == engine.OpList:
		return b.listRoles(ctx)
	case p == "tidy/secret-id" && req.Operation == engine.OpUpdate:
		return b.tidySecretIDs(ctx)
	case strings.HasPrefix(p, "role/"):
		rest := strings.TrimPrefix(p, "role/")
		if req.Operation == engine.OpList {
			rest = strings.TrimSuffix(rest, "/") // the front door adds a slash to every LIST
		}
		name, sub, _ := strings.Cut(rest, "/")
		if !roleNameRE.MatchString(name) {
			return nil, engine.Errorf(engine.ErrBadRequest, "invalid role name %q", name)
		}
		// Role names are case-insensitive and kept in lower case, as
		// Vault's (path_role.go: lower_case_role_name on every new role).
		name = strings.ToLower(name)
		switch sub {
		case "":
			return b.roleCRUD(ctx, req, name)
		case "role-id":
			return b.roleID(ctx, req, name)
		case "secret-id":
			if req.Operation == engine.OpList {
				return b.listSecretIDs(ctx, name)
			}
			if req.Operation == engine.OpUpdate {
				var in secretIDInput
				if err := req.DecodeBody(&in, decode); err != nil {
					return nil, err
				}
				return b.newSecretID(ctx, name, "", &in)
			}
		case "custom-secret-id":
			if req.Operation == engine.OpUpdate {
				var in struct {
					secretIDInput
					SecretID string `json:"secret_id"`
				}
				if err := req.DecodeBody(&in, decode); err != nil {
					return nil, err
				}
				switch {
				case in.SecretID == "":
					return nil, engine.Errorf(engine.ErrBadRequest, "missing secret_id")
				case len(in.SecretID) > maxSecretIDLen:
					return nil, engine.Errorf(engine.ErrBadRequest, "secret_id is longer than the maximum of %d bytes", maxSecretIDLen)
				}
				return b.newSecretID(ctx, name, in.SecretID, &in.secretIDInput)
			}
		case "secret-id/lookup":
			if req.Operation == engine.OpUpdate {
				return b.lookupSecretID(ctx, req, name)
			}
		case "secret-id/destroy":
			if req.Operation == engine.OpUpdate || req.Operation == engine.OpDelete {
				return nil, b.destroySecretID(ctx, req, name)
			}
		case "secret-id-accessor/lookup":
			if req.Operation == engine.OpUpdate {
				return b.lookupSecretIDAccessor(ctx, req, name)
			}
		case "secret-id-accessor/destroy":
			if req.Operation == engine.OpUpdate || req.Operation == engine.OpDelete {
				return nil, b.destroySecretIDAccessor(ctx, req, name)
			}
		default:
			if f, ok := roleFields[sub]; ok {
				return b.roleFieldOp(ctx, req, name, f)
			}
			return nil, engine.ErrUnsupportedPath
		}
		return nil, engine.ErrUnsupportedOperation
	}
	return nil, engine.ErrUnsupportedPath
}

// existingRole reads role name, or answers engine.ErrNotFound.
func (b *Backend) existingRole(ctx context.Context, name string) (*Role, error) {
	var r *Role
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		r, err = loadRole(tx, name)
		return err
	})
	if err == nil && r == nil {
		err = engine.ErrNotFound
	}
	return r, err
}

func loadRole(tx *seal.ReadTx, name string) (*Role, error) {
	return seal.GetJSON[Role](tx, roleKey(name))
}

func saveRole(tx *seal.Tx, r *Role) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Set(roleKey(r.Name), raw)
}

// roleInput is the body of role/<name>; pointers keep absent fields.
type roleInput struct {
	BindSecretID    *engine.Bool     `json:"bind_secret_id"`
	TokenPolicies   *stringList      `json:"token_policies"`
	Policies        *stringList      `json:"policies"`
	TokenTTL        *engine.Duration `json:"token_ttl"`
	TokenMaxTTL     *engine.Duration `json:"token_max_ttl"`
	TokenPeriod     *engine.Duration `json:"token_period"`
	Period          *engine.Duration `json:"period"`
	TokenNumUses    *engine.Int      `json:"token_num_uses"`
	SecretIDTTL     *engine.Duration `json:"secret_id_ttl"`
	SecretIDNumUses *engine.Int      `json:"secret_id_num_uses"`
	RoleID          *string          `json:"role_id"`
	TokenType       *string          `json:"token_type"`
	// secret_id_bound_cidrs, and bound_cidr_list, its deprecated name
	// (Vault's GetFirst: the new one wins).
	SecretIDBoundCIDRs   *stringList      `json:"secret_id_bound_cidrs"`
	BoundCIDRList        *stringList      `json:"bound_cidr_list"`
	TokenBoundCIDRs      *stringList      `json:"token_bound_cidrs"`
	TokenNoDefaultPolicy *engine.Bool     `json:"token_no_default_policy"`
	TokenExplicitMaxTTL  *engine.Duration `json:"token_explicit_max_ttl"`
}

// blocks validates a list of address blocks as Vault's
// cidrutil.ValidateCIDRListSlice (blocks only, no bare address) and
// returns it as written, spaces trimmed and empty elements dropped.
func blocks(in []string, what string) ([]string, error) {
	l, err := cidr.Parse(in, false)
	if err != nil {
		// Vault answers 500 for secret_id_bound_cidrs and cidr_list
		// (a returned error); bad input is a 400 here.
		return nil, engine.Errorf(engine.ErrBadRequest, "failed to validate %s: %v", what, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(l))
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func (b *Backend) roleCRUD(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	switch req.Operation {
	case engine.OpRead:
		r, err := b.existingRole(ctx, name)
		if err != nil {
			return nil, err
		}
		resp := &engine.Response{Data: roleData(r)}
		if !r.hasConstraint() {
			// Vault's pathRoleRead.
			resp.Warnings = []string{"Role does not have any constraints set on it. Updates to this role will require a constraint to be set"}
		}
		return resp, nil
	case engine.OpDelete:
		return nil, b.view.Update(ctx, func(tx *seal.Tx) error {
			r, err := loadRole(&tx.ReadTx, name)
			if err != nil || r == nil {
				return err
			}
			h, err := tx.MAC([]byte(r.RoleID))
			if err != nil {
				return err
			}
			for _, k := range [][]byte{roleKey(name), roleIDKey(h)} {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			if err := tx.DeletePrefix(tuple.Pack("secret", name)); err != nil {
				return err
			}
			return tx.DeletePrefix(tuple.Pack("accessor", name))
		})
	case engine.OpUpdate:
		var in roleInput
		if err := req.DecodeBody(&in, decode); err != nil {
			return nil, err
		}
		return nil, b.writeRole(ctx, name, &in, false)
	}
	return nil, engine.ErrUnsupportedOperation
}

// writeRole applies the fields in sets to role name, creating the role
// unless mustExist is set, in which case a missing role is Vault's
// ErrUnsupportedPath (the role/<name>/<field> paths).
func (b *Backend) writeRole(ctx context.Context, name string, in *roleInput, mustExist bool) error {
	if in.TokenType != nil {
		switch *in.TokenType {
		case "", "default", "service", "default-service", "batch", "default-batch":
		default:
			return engine.Errorf(engine.ErrBadRequest, "invalid 'token_type' value %q", *in.TokenType)
		}
	}
	var secretCIDRs, tokenCIDRs []string
	newCIDRs := in.SecretIDBoundCIDRs
	if newCIDRs == nil {
		newCIDRs = in.BoundCIDRList
	}
	if newCIDRs != nil {
		var err error
		if secretCIDRs, err = blocks(*newCIDRs, "CIDR blocks"); err != nil {
			return err
		}
	}
	if in.TokenBoundCIDRs != nil {
		var err error
		if tokenCIDRs, err = token.ParseBoundCIDRs("token_bound_cidrs", *in.TokenBoundCIDRs); err != nil {
			return err
		}
	}
	return b.view.Update(ctx, func(tx *seal.Tx) error {
		r, err := loadRole(&tx.ReadTx, name)
		if err != nil {
			return err
		}
		created := r == nil
		if created && mustExist {
			return engine.ErrUnsupportedPath
		}
		if created {
			r = &Role{Name: name, BindSecretID: true, RoleID: uuid.NewString()}
		}
		if in.RoleID != nil && *in.RoleID != "" {
			if !created {
				old, err := tx.MAC([]byte(r.RoleID))
				if err != nil {
					return err
				}
				if err := tx.Delete(roleIDKey(old)); err != nil {
					return err
				}
			}
			r.RoleID = *in.RoleID
		}
		if in.BindSecretID != nil {
			r.BindSecretID = bool(*in.BindSecretID)
		}
		switch {
		case in.TokenPolicies != nil:
			r.TokenPolicies, r.Policies = []string(*in.TokenPolicies), nil
			if in.Policies != nil {
				r.Policies = r.TokenPolicies
			}
		case in.Policies != nil:
			r.TokenPolicies = []string(*in.Policies)
			r.Policies = r.TokenPolicies
		}
		setDur := func(dst *time.Duration, vals ...*engine.Duration) {
			for _, v := range vals {
				if v != nil {
					*dst = time.Duration(*v) * time.Second
				}
			}
		}
		setDur(&r.TokenTTL, in.TokenTTL)
		setDur(&r.TokenMaxTTL, in.TokenMaxTTL)
		r.TokenPeriod, r.Period = engine.UpgradeDuration(in.Period, in.TokenPeriod, r.TokenPeriod, r.Period)
		setDur(&r.SecretIDTTL, in.SecretIDTTL)
		if in.TokenNumUses != nil {
			r.TokenNumUses = int(*in.TokenNumUses)
		}
		if in.SecretIDNumUses != nil {
			r.SecretIDNumUses = int(*in.SecretIDNumUses)
		}
		if in.TokenType != nil {
			r.TokenType = *in.TokenType
			if r.TokenType == "default-service" || r.TokenType == "" {
				r.TokenType = "default"
			}
		}
		if newCIDRs != nil {
			r.SecretIDBoundCIDRs = secretCIDRs
		}
		if in.TokenBoundCIDRs != nil {
			r.TokenBoundCIDRs = tokenCIDRs
		}
		if in.TokenNoDefaultPolicy != nil {
			r.TokenNoDefaultPolicy = bool(*in.TokenNoDefaultPolicy)
		}
		setDur(&r.TokenExplicitMaxTTL, in.TokenExplicitMaxTTL)
		switch {
		case !r.hasConstraint():
			// Vault's validateRoleConstraints. Vault answers 500
			// (setRoleEntry's error); bad input is a 400 here.
			return engine.Errorf(engine.ErrBadRequest, "%s", msgNoConstraint)
		case slices.Contains(token.SanitizePolicies(r.TokenPolicies, false), "root"):
			// Vault: "auth methods cannot create root tokens".
			return engine.Errorf(engine.ErrBadRequest, "auth methods cannot create root tokens: the root policy cannot be assigned to a role")
		case r.TokenNumUses < 0 || r.SecretIDNumUses < 0:
			return engine.Errorf(engine.ErrBadRequest, "num_uses cannot be negative")
		case r.TokenMaxTTL > 0 && r.TokenTTL > r.TokenMaxTTL:
			return engine.Errorf(engine.ErrBadRequest, "token_ttl should not be greater than token_max_ttl")
		case r.batch() && r.TokenExplicitMaxTTL != 0:
			// Vault's tokenutil.ParseTokenFields.
			return engine.Errorf(engine.ErrBadRequest, "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with an explicit max TTL")
		// Vault's tokenutil.ParseTokenFields.
		case r.batch() && r.TokenPeriod != 0:
			return engine.Errorf(engine.ErrBadRequest, "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens")
		case r.batch() && r.TokenNumUses != 0:
			return engine.Errorf(engine.ErrBadRequest, "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count")
		}
		h, err := tx.MAC([]byte(r.RoleID))
		if err != nil {
			return err
		}
		if err := tx.Set(roleIDKey(h), []byte(name)); err != nil {
			return err
		}
		return saveRole(tx, r)
	})
}

// nonNil is s, or an empty list for none (Vault's tokenutil shows an empty
// token_bound_cidrs as []).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func roleData(r *Role) map[string]any {
	pol := r.TokenPolicies
	if pol == nil {
		pol = []string{}
	}
	// Vault's pathRoleRead: secret_id_bound_cidrs is null when unset, and
	// the legacy policies and period appear only when set.
	d := map[string]any{
		"bind_secret_id": r.BindSecretID, "token_policies": pol,
		"token_ttl": int64(r.TokenTTL.Seconds()), "token_max_ttl": int64(r.TokenMaxTTL.Seconds()),
		"token_period":   int64(r.TokenPeriod.Seconds()),
		"token_num_uses": r.TokenNumUses, "secret_id_ttl": int64(r.SecretIDTTL.Seconds()),
		"secret_id_num_uses": r.SecretIDNumUses, "token_type": r.tokenType(), "local_secret_ids": false,
		"secret_id_bound_cidrs": nil, "token_bound_cidrs": nonNil(r.TokenBoundCIDRs),
		"token_no_default_policy": r.TokenNoDefaultPolicy, "token_explicit_max_ttl": int64(r.TokenExplicitMaxTTL.Seconds()),
	}
	if len(r.SecretIDBoundCIDRs) > 0 {
		d["secret_id_bound_cidrs"] = r.SecretIDBoundCIDRs
	}
	if len(r.Policies) > 0 {
		d["policies"] = r.Policies
	}
	if r.Period > 0 {
		d["period"] = int64(r.Period.Seconds())
	}
	return d
}

func (b *Backend) listRoles(ctx context.Context) (*engine.Response, error) {
	return b.listNames(ctx, tuple.Pack("role"))
}

// listNames answers a LIST with the names under prefix; none is 404.
func (b *Backend) listNames(ctx context.Context, prefix []byte) (*engine.Response, error) {
	var names []string
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		names, err = tx.ListNames(prefix)
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

func (b *Backend) roleID(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	if req.Operation == engine.OpUpdate {
		var in struct {
			RoleID string `json:"role_id"`
		}
		if err := req.DecodeBody(&in, decode); err != nil {
			return nil, err
		}
		if in.RoleID == "" {
			return nil, engine.Errorf(engine.ErrBadRequest, "missing role_id")
		}
		body, _ := json.Marshal(map[string]string{"role_id": in.RoleID})
		return b.roleCRUD(ctx, &engine.Request{Operation: engine.OpUpdate, Body: body}, name)
	}
	if req.Operation != engine.OpRead {
		return nil, engine.ErrUnsupportedOperation
	}
	r, err := b.existingRole(ctx, name)
	if err != nil {
		return nil, err
	}
	return &engine.Response{Data: map[string]any{"role_id": r.RoleID}}, nil
}

// secretIDInput is the body of role/<name>/secret-id, and of
// custom-secret-id with its secret_id.
type secretIDInput struct {
	Metadata        string          `json:"metadata"`
	TTL             engine.Duration `json:"ttl"`
	NumUses         engine.Int      `json:"num_uses"`
	CIDRList        stringList      `json:"cidr_list"`
	TokenBoundCIDRs stringList      `json:"token_bound_cidrs"`
}

// maxSecretIDLen bounds a custom secret ID, as Vault's HMAC input
// (maxHmacInputLength).
const maxSecretIDLen = 4096

// errSecretIDTaken is Vault's refusal of a custom secret ID the role
// already has (registerSecretIDEntry; Vault answers 500).
var errSecretIDTaken = engine.Errorf(engine.ErrBadRequest, "failed to store secret_id: SecretID is already registered")

// newSecretID makes a secret ID for role name (Vault's
// handleRoleSecretIDCommon): a random UUID, or custom when it is set.
func (b *Backend) newSecretID(ctx context.Context, name, custom string, in *secretIDInput) (*engine.Response, error) {
	cidrList, err := blocks(in.CIDRList, "CIDR blocks")
	if err != nil {
		return nil, err
	}
	tokenCIDRs, err := blocks(in.TokenBoundCIDRs, "token CIDR blocks")
	if err != nil {
		return nil, err
	}
	var meta map[string]string
	if in.Metadata != "" {
		if err := json.Unmarshal([]byte(in.Metadata), &meta); err != nil {
			return nil, engine.Errorf(engine.ErrBadRequest, "failed to parse metadata: it must be a JSON object of strings")
		}
	}
	if in.NumUses < 0 || in.TTL < 0 {
		return nil, engine.Errorf(engine.ErrBadRequest, "num_uses and ttl cannot be negative")
	}
	var resp *engine.Response
	err = b.view.Update(ctx, func(tx *seal.Tx) error {
		r, err := loadRole(&tx.ReadTx, name)
		if err != nil {
			return err
		}
		if r == nil {
			return engine.Errorf(engine.ErrBadRequest, "role %q does not exist", name)
		}
		if !r.BindSecretID {
			return engine.Errorf(engine.ErrBadRequest, "bind_secret_id is not set on the role")
		}
		if err := subsetOf(r.SecretIDBoundCIDRs, cidrList); err != nil {
			return err
		}
		if err := subsetOf(r.TokenBoundCIDRs, tokenCIDRs); err != nil {
			return err
		}
		id, acc := custom, uuid.NewString()
		if id == "" {
			id = uuid.NewString()
		}
		now := b.now().UTC()
		s := &SecretID{Accessor: acc, NumUses: r.SecretIDNumUses, TTL: r.SecretIDTTL,
			CreationTime: now, LastUpdated: now, Metadata: meta, CIDRList: cidrList, TokenBoundCIDRs: tokenCIDRs}
		if in.NumUses > 0 && (s.NumUses == 0 || int(in.NumUses) < s.NumUses) {
			s.NumUses = int(in.NumUses)
		}
		if in.TTL > 0 && (s.TTL == 0 || time.Duration(in.TTL)*time.Second < s.TTL) {
			s.TTL = time.Duration(in.TTL) * time.Second
		}
		if s.TTL > 0 {
			s.ExpirationTime = now.Add(s.TTL)
		}
		h, err := tx.MAC([]byte(id))
		if err != nil {
			return err
		}
		if custom != "" {
			old, err := loadSecret(&tx.ReadTx, name, h)
			if err != nil {
				return err
			}
			if old != nil {
				return errSecretIDTaken
			}
		}
		if err := saveSecret(tx, name, h, s); err != nil {
			return err
		}
		if err := tx.Set(accessorKey(name, acc), h); err != nil {
			return err
		}
		resp = &engine.Response{Data: map[string]any{
			"secret_id": id, "secret_id_accessor": acc,
			"secret_id_ttl": int64(s.TTL.Seconds()), "secret_id_num_uses": s.NumUses,
		}}
		return nil
	})
	return resp, err
}

// subsetOf is Vault's verifyCIDRRoleSecretIDSubset: a secret ID's blocks
// must lie inside its role's, when the role has any. Both lists were
// validated when written.
func subsetOf(role, secret []string) error {
	rl, err := cidr.Parse(role, true)
	if err != nil {
		return err
	}
	sl, err := cidr.Parse(secret, true)
	if err != nil {
		return err
	}
	if !rl.Covers(sl) {
		return engine.Errorf(engine.ErrBadRequest,
			"failed to verify subset relationship between CIDR blocks on the role %q and CIDR blocks on the secret ID %q", role, secret)
	}
	return nil
}

func saveSecret(tx *seal.Tx, role string, h []byte, s *SecretID) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return tx.Set(secretKey(role, h), raw)
}

func loadSecret(tx *seal.ReadTx, role string, h []byte) (*SecretID, error) {
	return seal.GetJSON[SecretID](tx, secretKey(role, h))
}

func (b *Backend) listSecretIDs(ctx context.Context, name string) (*engine.Response, error) {
	return b.listNames(ctx, tuple.Pack("accessor", name))
}

func (b *Backend) lookupSecretID(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var in struct {
		SecretID string `json:"secret_id"`
	}
	if err := req.DecodeBody(&in, decode); err != nil {
		return nil, err
	}
	if in.SecretID == "" {
		return nil, engine.Errorf(engine.ErrBadRequest, "missing secret_id")
	}
	var s *SecretID
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		h, err := tx.MAC([]byte(in.SecretID))
		if err != nil {
			return err
		}
		s, err = loadSecret(tx, name, h)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, nil // Vault answers 204 for an unknown secret ID
	}
	return &engine.Response{Data: secretIDData(s)}, nil
}

// secretIDData is a secret ID's lookup answer (Vault's
// pathRoleSecretIDLookupUpdate).
func secretIDData(s *SecretID) map[string]any {
	exp := ""
	if !s.ExpirationTime.IsZero() {
		exp = s.ExpirationTime.Format(time.RFC3339Nano)
	}
	meta := s.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return map[string]any{
		"secret_id_accessor": s.Accessor, "secret_id_num_uses": s.NumUses, "secret_id_ttl": int64(s.TTL.Seconds()),
		"creation_time": s.CreationTime.Format(time.RFC3339Nano), "expiration_time": exp,
		"last_updated_time": s.LastUpdated.Format(time.RFC3339Nano), "metadata": meta,
		"cidr_list": nonNil(s.CIDRList), "token_bound_cidrs": nonNil(s.TokenBoundCIDRs),
	}
}

// accessorInput is the body of the secret-id-accessor paths.
type accessorInput struct {
	Accessor string `json:"secret_id_accessor"`
}

// secretByAccessor finds the keyed hash of role's secret ID whose accessor
// the request names. An unknown accessor is a 404, in Vault's words.
func secretByAccessor(tx *seal.ReadTx, role string, body []byte) ([]byte, error) {
	var in accessorInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Accessor == "" {
		return nil, engine.Errorf(engine.ErrBadRequest, "missing secret_id_accessor")
	}
	h, err := tx.Get(accessorKey(role, in.Accessor))
	if errors.Is(err, seal.ErrNotFound) {
		return nil, engine.Errorf(engine.ErrUnsupportedPath, "failed to find accessor entry for secret_id_accessor: %q", in.Accessor)
	}
	return h, err
}

// lookupSecretIDAccessor answers role/<name>/secret-id-accessor/lookup
// (Vault's pathRoleSecretIDAccessorLookupUpdate).
func (b *Backend) lookupSecretIDAccessor(ctx context.Context, req *engine.Request, name string) (*engine.Response, error) {
	var s *SecretID
	err := b.view.View(ctx, func(tx *seal.ReadTx) error {
		h, err := secretByAccessor(tx, name, req.Body)
		if err != nil {
			return err
		}
		s, err = loadSecret(tx, name, h)
		return err
	})
	if err != nil || s == nil {
		return nil, err
	}
	return &engine.Response{Data: secretIDData(s)}, nil
}

// destroySecretIDAccessor answers role/<name>/secret-id-accessor/destroy
// (Vault's pathRoleSecretIDAccessorDestroyUpdateDelete); Vault answers an
// unknown accessor with a 500, here it is the lookup's 404.
func (b *Backend) destroySecretIDAccessor(ctx context.Context, req *engine.Request, name string) error {
	return b.view.Update(ctx, func(tx *seal.Tx) error {
		h, err := secretByAccessor(&tx.ReadTx, name, req.Body)
		if err != nil {
			return err
		}
		return deleteSecret(tx, name, h)
	})
}

func (b *Backend) destroySecretID(ctx context.Context, req *engine.Request, name string) error {
	var in struct {
		SecretID string `json:"secret_id"`
	}
	if err := req.DecodeBody(&in, decode); err != nil {
		return err
	}
	if in.SecretID == "" {
		return engine.Errorf(engine.ErrBadRequest, "missing secret_id")
	}
	return b.view.Update(ctx, func(tx *seal.Tx) error {
		h, err := tx.MAC([]byte(in.SecretID))
		if err != nil {
			return err
		}
		return deleteSecret(tx, name, h)
	})
}

func deleteSecret(tx *seal.Tx, role string, h []byte) error {
	s, err := loadSecret(&tx.ReadTx, role, h)
	if err != nil || s == nil {
		return err
	}
	if err := tx.Delete(accessorKey(role, s.Accessor)); err != nil {
		return err
	}
	return tx.Delete(secretKey(role, h))
}

// errLogin is the one answer to every failed login, so a caller cannot tell
// an unknown role ID from a wrong secret ID.
var errLogin = engine.Errorf(engine.ErrBadRequest, "invalid role or secret ID")

// msgNoConstraint is Vault's refusal of a role that binds nothing
// (validateRoleConstraints).
const msgNoConstraint = "at least one constraint should be enabled on the role"

// login trades a role ID and secret ID for a token (Vault's pathLoginUpdate).
func (b *Backend) login(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	var in struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}
	if err := req.DecodeBody(&in, decode); err != nil {
		return nil, err
	}
	if in.RoleID == "" {
		return nil, engine.Errorf(engine.ErrBadRequest, "missing role_id")
	}
	now := b.now()
	var resp *engine.Response
	err := b.view.Update(ctx, func(tx *seal.Tx) error {
		rh, err := tx.MAC([]byte(in.RoleID))
		if err != nil {
			return err
		}
		name, err := tx.Get(roleIDKey(rh))
		if errors.Is(err, seal.ErrNotFound) {
			return errLogin
		}
		if err != nil {
			return err
		}
		r, err := loadRole(&tx.ReadTx, string(name))
		if err != nil {
			return err
		}
		if r == nil || subtle.ConstantTimeCompare([]byte(r.RoleID), []byte(in.RoleID)) != 1 {
			return errLogin
		}
		if !r.hasConstraint() {
			// A role stored without a constraint (roles written before
			// writes refused them) would let its role ID alone log in; a
			// role ID is not a secret.
			return errLogin
		}
		// Vault checks the secret ID's blocks, then the role's; here
		// both before anything is written, so a refused login uses
		// nothing up.
		if err := allowedFrom(r.SecretIDBoundCIDRs, req.RemoteAddr, "by", "the role"); err != nil {
			return err
		}
		meta := map[string]string{"role_name": r.Name}
		tokenCIDRs := r.TokenBoundCIDRs
		if !r.BindSecretID {
			resp, err = b.issue(tx, r, meta, tokenCIDRs, now)
			return err
		}
		if in.SecretID == "" {
			return engine.Errorf(engine.ErrBadRequest, "missing secret_id")
		}
		sh, err := tx.MAC([]byte(in.SecretID))
		if err != nil {
			return err
		}
		s, err := loadSecret(&tx.ReadTx, r.Name, sh)
		if err != nil {
			return err
		}
		if s == nil {
			return errLogin
		}
		if !s.ExpirationTime.IsZero() && !now.Before(s.ExpirationTime) {
			if err := deleteSecret(tx, r.Name, sh); err != nil {
				return err
			}
			return errLogin
		}
		if err := subsetOf(r.SecretIDBoundCIDRs, s.CIDRList); err != nil {
			// The role's blocks were narrowed after the secret ID was
			// made (Vault checks again at login).
			return err
		}
		// Vault's two texts: "through" for a secret ID without a use
		// limit, "by" for one with.
		how := "through"
		if s.NumUses > 0 {
			how = "by"
		}
		if err := allowedFrom(s.CIDRList, req.RemoteAddr, how, "the secret ID"); err != nil {
			return err
		}
		if len(s.TokenBoundCIDRs) > 0 {
			tokenCIDRs = s.TokenBoundCIDRs
		}
		switch {
		case s.NumUses == 1:
			if err := deleteSecret(tx, r.Name, sh); err != nil {
				return err
			}
		case s.NumUses > 1:
			s.NumUses--
			s.LastUpdated = now.UTC()
			if err := saveSecret(tx, r.Name, sh, s); err != nil {
				return err
			}
		}
		for k, v := range s.Metadata {
			meta[k] = v
		}
		resp, err = b.issue(tx, r, meta, tokenCIDRs, now)
		return err
	})
	return resp, err
}

// allowedFrom refuses a login from remote outside blocks, when there are
// any (Vault's "source address ... unauthorized <how> CIDR restrictions on
// <whose>", without the %!w(<nil>) some of its texts carry).
func allowedFrom(blocks []string, remote, how, whose string) error {
	if len(blocks) == 0 {
		return nil
	}
	l, err := cidr.Parse(blocks, true)
	if err != nil || !l.Allows(remote) {
		return engine.Errorf(engine.ErrBadRequest, "source address %q unauthorized %s CIDR restrictions on %s", cidr.Host(remote), how, whose)
	}
	return nil
}

// issue makes the token of a login to role r, bound to tokenCIDRs.
func (b *Backend) issue(tx *seal.Tx, r *Role, meta map[string]string, tokenCIDRs []string, now time.Time) (*engine.Response, error) {
	policies := token.SanitizePolicies(r.TokenPolicies, !r.TokenNoDefaultPolicy)
	if slices.Contains(policies, "root") {
		return nil, engine.Errorf(engine.ErrBadRequest, "auth methods cannot create root tokens")
	}
	ttl, maxTTL, warnings := token.LoginTTL(b.defaultTTL, b.maxTTL, r.TokenTTL, r.TokenMaxTTL, r.TokenPeriod, r.TokenExplicitMaxTTL)
	e := &token.Entry{
		Policies: policies, Path: "auth/" + b.path + "login",
		DisplayName: strings.TrimSuffix(b.path, "/"), Meta: meta, NumUses: r.TokenNumUses,
		CreationTime: now.Unix(), Type: "service", Renewable: true, Period: r.TokenPeriod,
		TTL: ttl, ExpireTime: now.Add(ttl).Unix(), BoundCIDRs: tokenCIDRs,
	}
	var tok string
	var err error
	if r.batch() {
		// Nothing is written for the token: an orphan batch token that
		// lives its TTL.
		e.Renewable = false
		tok, err = token.CreateBatch(&tx.ReadTx, e)
	} else {
		if r.TokenPeriod == 0 && maxTTL < token.SystemMaxTTL {
			// Renewals stop at the role's or the mount's max TTL.
			e.ExplicitMaxTTL = maxTTL
		}
		if x := r.TokenExplicitMaxTTL; x > 0 && (e.ExplicitMaxTTL == 0 || x < e.ExplicitMaxTTL) {
			// A periodic token too stops at token_explicit_max_ttl
			// (Vault's tokenutil: auth.ExplicitMaxTTL).
			e.ExplicitMaxTTL = x
		}
		tok, err = token.Create(tx.Tenant(), e)
	}
	if err != nil {
		return nil, err
	}
	return &engine.Response{Warnings: warnings, Auth: &engine.Auth{
		ClientToken: tok, Accessor: e.Accessor, Policies: e.Policies, TokenPolicies: e.Policies,
		Metadata: meta, LeaseDuration: int64(ttl.Seconds()), Renewable: e.Renewable, TokenType: e.Type,
		Orphan: true, NumUses: e.NumUses,
	}}, nil
}
