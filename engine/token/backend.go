package token

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
)

// Backend serves auth/token/* (Vault's token store paths, vault/token_store.go)
// for one tenant. Its contract with the front door: the request's token is
// valid (authenticated) and the ACL allowed the path; Sudo says whether the
// caller has sudo on it.
type Backend struct {
	Barrier *seal.Barrier
	Cache   *Cache // dropped entries on revocation; may be nil
	Now     func() time.Time
	// PolicyExists, if set, tells whether a policy exists, for the
	// warnings of token creation (Vault's "Policy %q does not exist").
	PolicyExists func(ctx context.Context, name string) (bool, error)
}

var _ engine.Backend = (*Backend)(nil)

func (b *Backend) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// HandleRequest routes auth/token/<path>.
func (b *Backend) HandleRequest(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	p := req.Path
	op := req.Operation
	switch {
	case p == "create" && op == engine.OpUpdate:
		return b.create(ctx, req, false, nil)
	case p == "create-orphan" && op == engine.OpUpdate:
		return b.create(ctx, req, true, nil)
	case strings.HasPrefix(p, "create/") && op == engine.OpUpdate:
		role, err := b.role(ctx, strings.TrimPrefix(p, "create/"))
		if err != nil {
			return nil, err
		}
		return b.create(ctx, req, false, role)
	case p == "lookup-self" && (op == engine.OpRead || op == engine.OpUpdate):
		return b.lookup(ctx, req.ClientToken)
	case p == "lookup" && (op == engine.OpRead || op == engine.OpUpdate):
		var in struct {
			Token string `json:"token"`
		}
		if err := req.DecodeBody(&in, decode); err != nil {
			return nil, err
		}
		if in.Token == "" {
			in.Token = req.Query.Get("token")
		}
		if in.Token == "" {
			in.Token = req.ClientToken
		}
		return b.lookup(ctx, in.Token)
	case p == "lookup-accessor" && op == engine.OpUpdate:
		return b.lookupAccessor(ctx, req)
	case p == "renew-self" && op == engine.OpUpdate:
		return b.renew(ctx, req, req.ClientToken)
	case p == "renew" && op == engine.OpUpdate:
		var in struct {
			Token string `json:"token"`
		}
		if err := req.DecodeBody(&in, decode); err != nil {
			return nil, err
		}
		if in.Token == "" {
			return nil, engine.Errorf(engine.ErrBadRequest, "missing token ID")
		}
		return b.renew(ctx, req, in.Token)
	case p == "revoke-self" && op == engine.OpUpdate:
		return nil, b.revoke(ctx, req.ClientToken, false)
	case (p == "revoke" || p == "revoke-orphan") && op == engine.OpUpdate:
		var in struct {
			Token string `json:"token"`
		}
		if err := req.DecodeBody(&in, decode); err != nil {
			return nil, err
		}
		if in.Token == "" {
			return nil, engine.Errorf(engine.ErrBadRequest, "missing token ID")
		}
		if p == "revoke-orphan" {
			if !req.Sudo {
				return nil, engine.Errorf(engine.ErrBadRequest, "root or sudo privileges required to revoke and orphan")
			}
			return nil, b.revoke(ctx, in.Token, true)
		}
		return nil, b.revoke(ctx, in.Token, false)
	case p == "revoke-accessor" && op == engine.OpUpdate:
		return nil, b.revokeAccessor(ctx, req)
	case p == "roles" && op == engine.OpList, p == "roles/" && op == engine.OpList:
		return b.listRoles(ctx)
	case strings.HasPrefix(p, "roles/"):
		return b.roleOp(ctx, req, strings.TrimPrefix(p, "roles/"))
	case knownPaths[p] || strings.HasPrefix(p, "create/"):
		// The path exists, not for this operation: Vault's 405.
		return nil, engine.ErrUnsupportedOperation
	}
	return nil, engine.ErrUnsupportedPath
}

// knownPaths are the token store's fixed paths, for telling a wrong
// operation (405) from an unknown path (404).
var knownPaths = map[string]bool{
	"create": true, "create-orphan": true, "lookup-self": true, "lookup": true, "lookup-accessor": true,
	"renew-self": true, "renew": true, "revoke-self": true, "revoke": true, "revoke-orphan": true,
	"revoke-accessor": true, "roles": true, "roles/": true,
}

// decode reads a JSON body into v; an empty body leaves v as is.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return engine.Errorf(engine.ErrBadRequest, "failed to parse JSON input: invalid request body")
	}
	return nil
}

// CreateRequest is the body of auth/token/create (Vault's fields).
type CreateRequest struct {
	Policies        StringList        `json:"policies"`
	Meta            map[string]string `json:"meta"`
	NoParent        engine.Bool       `json:"no_parent"`
	NoDefaultPolicy engine.Bool       `json:"no_default_policy"`
	Renewable       *engine.Bool      `json:"renewable"`
	TTL             engine.Duration   `json:"ttl"`
	ExplicitMaxTTL  engine.Duration   `json:"explicit_max_ttl"`
	Period          engine.Duration   `json:"period"`
	DisplayName     string            `json:"display_name"`
	NumUses         engine.Int        `json:"num_uses"`
	Type            string            `json:"type"`
	ID              string            `json:"id"`
	// EntityAlias, Lease and RoleName are in the field schema of Vault's
	// path but Strongroom does not act on them; they are named here so that
	// they are not warned of as unrecognized (the api client always sends
	// entity_alias). Identity entities do not exist here; lease is
	// deprecated and OpenBao's token store reads it nowhere either
	// (internal/vault/token_store.go).
	EntityAlias string `json:"entity_alias"`
	Lease       string `json:"lease"`
	RoleName    string `json:"role_name"`
}

// StringList reads a JSON list of strings or a comma-separated string, as
// Vault's TypeCommaStringSlice.
type StringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (s *StringList) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*s = list
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return engine.Errorf(engine.ErrBadRequest, "expected a list of strings or a comma-separated string")
	}
	*s = nil
	for _, p := range strings.Split(one, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// SanitizePolicies is sanitize for other auth methods.
func SanitizePolicies(in []string, addDefault bool) []string { return sanitize(in, addDefault) }

// sanitize lowercases, trims, dedupes and sorts policy names, adds
// "default" when asked, and reduces any list with "root" to ["root"]
// (Vault's policyutil.SanitizePolicies).
func sanitize(in []string, addDefault bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range in {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	if seen["root"] {
		return []string{"root"}
	}
	if addDefault && !seen["default"] {
		out = append(out, "default")
	}
	sort.Strings(out)
	return out
}

func subset(super, sub []string) bool {
	for _, s := range sub {
		if !slices.Contains(super, s) {
			return false
		}
	}
	return true
}

var displayNameSanitize = regexp.MustCompile(`[^a-zA-Z0-9-]`)

// create implements auth/token/create, create-orphan and create/<role>
// (Vault's handleCreateCommon).
func (b *Backend) create(ctx context.Context, req *engine.Request, orphan bool, role *Role) (*engine.Response, error) {
	var in CreateRequest
	if err := req.DecodeBody(&in, decode); err != nil {
		return nil, err
	}
	now := b.now()
	if in.ID != "" {
		return nil, engine.Errorf(engine.ErrBadRequest, "custom token IDs are not supported")
	}
	if in.NumUses < 0 {
		return nil, engine.Errorf(engine.ErrBadRequest, "number of uses cannot be negative")
	}
	if IsBatch(req.ClientToken) {
		return nil, ErrBatchNoChildren
	}
	if role != nil {
		// Vault's handleCreateCommon: the role's token_type decides, or
		// gives the default for the request's.
		switch role.tokenType() {
		case "default-batch":
			if in.Type == "" {
				in.Type = "batch"
			}
		case "service", "batch":
			in.Type = role.TokenType
		}
	}
	batch := false
	switch in.Type {
	case "", "service":
	case "batch":
		// Vault's handleCreateCommon, in its order.
		var bad string
		switch {
		case in.ExplicitMaxTTL != 0:
			bad = "explicit_max_ttl"
		case in.NumUses != 0:
			bad = "num_uses"
		case in.Period != 0:
			bad = "period"
		}
		if bad != "" {
			return nil, engine.Errorf(engine.ErrBadRequest, "batch tokens cannot have %q set", bad)
		}
		batch = true
	default:
		return nil, engine.Errorf(engine.ErrBadRequest, "invalid 'token_type' value")
	}
	// Vault's parseAndMergeTTLPeriod checks them in this order.
	switch {
	case in.ExplicitMaxTTL < 0:
		return nil, engine.Errorf(engine.ErrBadRequest, "explicit_max_ttl must be positive")
	case in.Period < 0:
		return nil, engine.Errorf(engine.ErrBadRequest, "period must be positive")
	case in.TTL < 0:
		return nil, engine.Errorf(engine.ErrBadRequest, "ttl must be positive")
	}
	var resp *engine.Response
	// A batch token is made in a read transaction: it writes nothing.
	run := func(fn func(rtx *seal.ReadTx, wtx *seal.Tx) error) error {
		if batch {
			return b.Barrier.View(ctx, func(tx *seal.ReadTx) error { return fn(tx, nil) })
		}
		return b.Barrier.Update(ctx, func(tx *seal.Tx) error { return fn(&tx.ReadTx, tx) })
	}
	err := run(func(rtx *seal.ReadTx, wtx *seal.Tx) error {
		ph, err := Hash(rtx, req.ClientToken)
		if err != nil {
			return engine.Errorf(engine.ErrBadRequest, "parent token lookup failed: no parent found")
		}
		parent, err := LookupHash(rtx, ph, now)
		if err != nil {
			return engine.Errorf(engine.ErrBadRequest, "parent token lookup failed: no parent found")
		}
		if parent.NumUses > 0 {
			return engine.Errorf(engine.ErrBadRequest, "restricted use token cannot generate child tokens")
		}
		isSudo := req.Sudo
		e := &Entry{
			Parent: ph, Path: "auth/token/" + req.Path, Meta: in.Meta, DisplayName: "token",
			NumUses: int(in.NumUses), CreationTime: now.Unix(), Type: "service", Renewable: true,
		}
		if in.Renewable != nil {
			e.Renewable = bool(*in.Renewable)
		}
		if in.DisplayName != "" {
			e.DisplayName = strings.TrimSuffix(displayNameSanitize.ReplaceAllString("token-"+in.DisplayName, "-"), "-")
		}
		// Policies (Vault's resolveTokenPolicies).
		policies := []string(in.Policies)
		switch {
		case role != nil:
			e.Role = role.Name
			if !role.Renewable {
				e.Renewable = false
			}
			addDefault := !bool(in.NoDefaultPolicy) && !slices.Contains(role.DisallowedPolicies, "default")
			final := sanitize(policies, addDefault)
			if len(policies) == 0 {
				if len(role.AllowedPolicies) > 0 {
					final = sanitize(role.AllowedPolicies, addDefault)
				} else {
					final = sanitize(parent.Policies, addDefault)
				}
			} else if len(role.AllowedPolicies) > 0 && !subset(sanitize(role.AllowedPolicies, addDefault), final) {
				return engine.Errorf(engine.ErrBadRequest, "token policies (%q) must be subset of the role's allowed policies (%q)", final, role.AllowedPolicies)
			}
			for _, p := range final {
				if slices.Contains(role.DisallowedPolicies, p) {
					return engine.Errorf(engine.ErrBadRequest, "token policy %q is disallowed by this role", p)
				}
			}
			policies = final
			if role.Orphan {
				e.Parent = nil
			}
			if role.PathSuffix != "" {
				e.Path += "/" + role.PathSuffix
			}
		case len(policies) == 0:
			policies = sanitize(parent.Policies, false)
		case !isSudo:
			asked := sanitize(policies, false)
			if !subset(sanitize(parent.Policies, false), asked) {
				return engine.Errorf(engine.ErrBadRequest, "child policies must be subset of parent")
			}
			policies = sanitize(asked, !bool(in.NoDefaultPolicy) && slices.Contains(parent.Policies, "default"))
		default:
			policies = sanitize(policies, !bool(in.NoDefaultPolicy))
		}
		if in.NoDefaultPolicy {
			policies = slices.DeleteFunc(policies, func(p string) bool { return p == "default" })
		}
		e.Policies = policies
		if e.IsRoot() && !parent.IsRoot() {
			return engine.Errorf(engine.ErrBadRequest, "root tokens may not be created without parent token being root")
		}
		switch {
		case role != nil:
		case bool(in.NoParent):
			if !isSudo {
				return engine.Errorf(engine.ErrBadRequest, "root or sudo privileges required to create orphan token")
			}
			e.Parent = nil
		case orphan:
			e.Parent = nil
		}
		// Bound CIDRs: a role's apply (Vault's handleCreateCommon);
		// without a role, the new token keeps its creator's, orphan or
		// not, so a bound token cannot mint an unbound one. Vault copies
		// them to a child with a parent only, which lets a bound token
		// escape its binding through auth/token/create-orphan (no sudo
		// needed); this is stricter.
		if role != nil {
			e.BoundCIDRs = role.BoundCIDRs
		} else {
			e.BoundCIDRs = parent.BoundCIDRs
		}
		// TTLs (Vault's parseAndMergeTTLPeriod and CalculateTTL).
		explicitMax, period := time.Duration(in.ExplicitMaxTTL)*time.Second, time.Duration(in.Period)*time.Second
		if role != nil {
			if role.ExplicitMaxTTL > 0 && (explicitMax == 0 || role.ExplicitMaxTTL < explicitMax) {
				explicitMax = role.ExplicitMaxTTL
			}
			if role.Period > 0 {
				period = role.Period
			}
		}
		if period > 0 && !isSudo && role == nil {
			return engine.Errorf(engine.ErrBadRequest, "root or sudo privileges required to create periodic token")
		}
		cfg, err := ReadConfig(rtx)
		if err != nil {
			return err
		}
		ttl, warnings := createTTL(cfg, time.Duration(in.TTL)*time.Second, period, explicitMax, e.IsRoot())
		e.TTL, e.ExplicitMaxTTL, e.Period = ttl, explicitMax, period
		if ttl == 0 {
			if parent.ExpireTime != 0 {
				return engine.Errorf(engine.ErrBadRequest, "expiring root tokens cannot create non-expiring root tokens")
			}
			e.Renewable, e.BoundCIDRs = false, nil
		} else {
			e.ExpireTime = now.Add(ttl).Unix()
		}
		var tok string
		if batch {
			e.Renewable = false
			tok, err = CreateBatch(rtx, e)
		} else {
			tok, err = Create(wtx, e)
		}
		if err != nil {
			return err
		}
		resp = &engine.Response{Auth: authOf(tok, e), Warnings: warnings}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Vault's handleCreateCommon: a policy that does not exist is no
	// error, but the answer warns of it.
	if b.PolicyExists != nil {
		for _, p := range resp.Auth.Policies {
			ok, err := b.PolicyExists(ctx, p)
			if err != nil {
				return nil, err
			}
			if !ok {
				resp.Warnings = append(resp.Warnings, fmt.Sprintf("Policy %q does not exist", p))
			}
		}
	}
	return resp, nil
}

// createTTL is the TTL of a new token asked for with ttl, period and
// explicit max TTL explicitMax, and the warnings that go with it (Vault's
// handleCreateCommon and framework.CalculateTTL, with the token store's
// mount TTLs cfg): see LoginTTL. A root token asked for without a TTL or
// period does not expire unless explicitMax says.
func createTTL(cfg Config, ttl, period, explicitMax time.Duration, root bool) (time.Duration, []string) {
	if period > 0 || ttl > 0 || !root {
		t, _, warnings := LoginTTL(cfg.defaultTTL(), cfg.maxTTL(), ttl, 0, period, explicitMax)
		return t, warnings
	}
	return explicitMax, nil
}

// LoginTTL is the TTL of a token a login issues, and the warnings for any
// cap, as Vault's framework.CalculateTTL computes it for a new login
// (increment 0): the auth mount's default and max lease TTLs (0: the
// system's, 768h) stand where the role sets none, the role's max TTL and
// explicit max TTL lower the cap, a period replaces the TTL. It also
// returns the effective max TTL, which bounds renewals.
func LoginTTL(mountDefault, mountMax, ttl, maxTTL, period, explicitMax time.Duration) (time.Duration, time.Duration, []string) {
	def, capTTL := SystemMaxTTL, SystemMaxTTL
	if mountDefault > 0 {
		def = mountDefault
	}
	if mountMax > 0 {
		capTTL = mountMax
	}
	// Vault's dynamicSystemView.fetchTTLs: the mount's default never
	// exceeds its max, silently.
	def = min(def, capTTL)
	if maxTTL > 0 && maxTTL < capTTL {
		capTTL = maxTTL
	}
	if explicitMax > 0 && explicitMax < capTTL {
		capTTL = explicitMax
	}
	var warnings []string
	if period > 0 {
		if period > capTTL {
			warnings = append(warnings, fmt.Sprintf("period of %q exceeded the effective max_ttl of %q; period value is capped accordingly",
				humanDuration(period), humanDuration(capTTL)))
			period = capTTL
		}
		return period, capTTL, warnings
	}
	if ttl <= 0 {
		ttl = def
	}
	if ttl > capTTL {
		warnings = append(warnings, fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly",
			humanDuration(ttl), humanDuration(capTTL)))
		ttl = capTTL
	}
	return ttl, capTTL, warnings
}

// humanDuration prints d without zero parts ("768h", "20m"), as Vault's
// framework does in its TTL warnings.
func humanDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if i := strings.Index(s, "h0m"); i > 0 {
		s = s[:i+1] + s[i+3:]
	}
	return s
}

// authOf is the envelope's auth block for a token.
func authOf(tok string, e *Entry) *engine.Auth {
	meta := e.Meta
	return &engine.Auth{
		ClientToken: tok, Accessor: e.Accessor, Policies: e.Policies, TokenPolicies: e.Policies,
		Metadata: meta, LeaseDuration: int64(e.TTL.Seconds()), Renewable: e.Renewable,
		TokenType: e.Type, Orphan: len(e.Parent) == 0, NumUses: e.NumUses,
	}
}

func (b *Backend) lookup(ctx context.Context, tok string) (*engine.Response, error) {
	var e *Entry
	err := b.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		e, err = Lookup(tx, tok, b.now())
		return err
	})
	if errors.Is(err, ErrInvalid) {
		// Vault's handleLookup: ErrorResponse("bad token") with
		// ErrPermissionDenied, a 403.
		return nil, engine.Errorf(engine.ErrPermissionDenied, "bad token")
	}
	if err != nil {
		return nil, err
	}
	return &engine.Response{Data: LookupData(tok, e, b.now())}, nil
}

func (b *Backend) lookupAccessor(ctx context.Context, req *engine.Request) (*engine.Response, error) {
	var in struct {
		Accessor string `json:"accessor"`
	}
	if err := req.DecodeBody(&in, decode); err != nil {
		return nil, err
	}
	var e *Entry
	err := b.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		th, err := LookupAccessor(tx, in.Accessor)
		if err != nil {
			return err
		}
		e, err = LookupHash(tx, th, b.now())
		if e != nil {
			e.Accessor = in.Accessor
		}
		return err
	})
	if errors.Is(err, ErrInvalid) {
		return nil, engine.Errorf(engine.ErrBadRequest, "invalid accessor")
	}
	if err != nil {
		return nil, err
	}
	return &engine.Response{Data: LookupData("", e, b.now())}, nil
}

func (b *Backend) renew(ctx context.Context, req *engine.Request, tok string) (*engine.Response, error) {
	if IsBatch(tok) {
		return nil, ErrBatchNotRenewable
	}
	var in struct {
		Increment engine.Duration `json:"increment"`
	}
	if err := req.DecodeBody(&in, decode); err != nil {
		return nil, err
	}
	var resp *engine.Response
	err := b.Barrier.Update(ctx, func(tx *seal.Tx) error {
		th, err := Hash(&tx.ReadTx, tok)
		if err != nil {
			return err
		}
		e, warnings, err := Renew(tx, th, time.Duration(in.Increment)*time.Second, b.now())
		if err != nil {
			return err
		}
		if e.Accessor, err = accessorOf(&tx.ReadTx, tok); err != nil {
			return err
		}
		a := authOf(tok, e)
		a.LeaseDuration = max(e.ExpireTime-b.now().Unix(), 0)
		resp = &engine.Response{Auth: a, Warnings: warnings}
		return nil
	})
	if err == nil && b.Cache != nil {
		b.Cache.Forget(tok) // its cached expiry is the old one
	}
	switch {
	case errors.Is(err, ErrInvalid):
		return nil, engine.Errorf(engine.ErrBadRequest, "invalid token")
	case errors.Is(err, ErrNotRenewable):
		return nil, engine.Errorf(engine.ErrBadRequest, "lease is not renewable")
	}
	if b.Cache != nil {
		b.Cache.Forget(tok)
	}
	return resp, err
}

// revoke revokes tok and its children (or only tok, orphaning them).
// Revoking an unknown token is not an error, as in Vault.
func (b *Backend) revoke(ctx context.Context, tok string, orphan bool) error {
	if IsBatch(tok) {
		return ErrBatchNotRevocable
	}
	err := b.Barrier.Update(ctx, func(tx *seal.Tx) error {
		th, err := Hash(&tx.ReadTx, tok)
		if errors.Is(err, ErrInvalid) {
			return nil
		}
		if err != nil {
			return err
		}
		if orphan {
			return RevokeOrphan(tx, th)
		}
		return RevokeTree(tx, th)
	})
	if err == nil && b.Cache != nil {
		// Children revoked with it may be cached too: start over.
		b.Cache.Clear()
	}
	return err
}

func (b *Backend) revokeAccessor(ctx context.Context, req *engine.Request) error {
	var in struct {
		Accessor string `json:"accessor"`
	}
	if err := req.DecodeBody(&in, decode); err != nil {
		return err
	}
	err := b.Barrier.Update(ctx, func(tx *seal.Tx) error {
		th, err := LookupAccessor(&tx.ReadTx, in.Accessor)
		if err != nil {
			return err
		}
		return RevokeTree(tx, th)
	})
	if errors.Is(err, ErrInvalid) {
		return engine.Errorf(engine.ErrBadRequest, "invalid accessor")
	}
	if err == nil && b.Cache != nil {
		b.Cache.Clear()
	}
	return err
}

// Tidy revokes up to limit tokens that have expired, with their children,
// and reports how many it revoked. The server runs it periodically.
func (b *Backend) Tidy(ctx context.Context, limit int) (int, error) {
	now := b.now()
	var expired []Expired
	err := b.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		var err error
		expired, err = ExpiredBefore(tx, now, limit)
		return err
	})
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	err = b.Barrier.Update(ctx, func(tx *seal.Tx) error {
		for _, x := range expired {
			if err := RevokeTree(tx, x.Hash); err != nil {
				return err
			}
			// The index entry goes even if the token was already revoked.
			if err := tx.Delete(expiryKey(x.At, x.Hash)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && b.Cache != nil {
		b.Cache.Clear()
	}
	return len(expired), err
}
