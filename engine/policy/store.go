package policy

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/seal"
	"github.com/strongroom/strongroom/storage/tuple"
)

// Store keeps a tenant's ACL policies (sys/policy, sys/policies/acl) in its
// barrier, and compiles and caches the ACL of each set of policies a token
// carries. The built-in "root" and "default" policies always exist; default
// is stored once it is edited. "response-wrapping" exists too, but is not
// listed and cannot be changed. The cache is dropped whenever a policy
// changes on this node, and by Invalidate.
type Store struct {
	Barrier *seal.Barrier

	mu    sync.Mutex
	cache map[string]*Compiled
}

// Compiled is the ACL of a set of policies.
type Compiled struct {
	*ACL
	// NeedsParams reports whether any rule constrains parameters, so the
	// caller must decode the request body for Allow.
	NeedsParams bool
}

// ErrProtected refuses changes to the root policy and deleting default.
var ErrProtected = errors.New("policy: protected policy")

func key(name string) []byte { return tuple.Pack("sys", "policy", name) }

// Get returns the named policy's text, or "" and false.
func (s *Store) Get(ctx context.Context, name string) (string, bool, error) {
	name = NormalizeName(name)
	switch name {
	case RootPolicyName:
		return "", true, nil
	case ResponseWrappingPolicyName:
		return ResponseWrappingPolicy, true, nil
	}
	var text string
	found := false
	err := s.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		raw, err := tx.Get(key(name))
		if errors.Is(err, seal.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		text, found = string(raw), true
		return nil
	})
	if err == nil && !found && name == DefaultPolicyName {
		return DefaultPolicy, true, nil
	}
	return text, found, err
}

// Put parses text and stores it as the named policy. Errors match
// engine.ErrBadRequest (bad name or text) or ErrProtected.
func (s *Store) Put(ctx context.Context, name, text string) error {
	name = NormalizeName(name)
	if name == RootPolicyName || name == ResponseWrappingPolicyName {
		return engine.Errorf(ErrProtected, "cannot update %q policy", name) // Vault's policy_store.go
	}
	if name != DefaultPolicyName {
		if err := ValidName(name); err != nil {
			return err
		}
	}
	if _, err := Parse(name, text); err != nil {
		return err
	}
	err := s.Barrier.Update(ctx, func(tx *seal.Tx) error {
		if err := tx.Set(key(name), []byte(text)); err != nil {
			return err
		}
		return tx.BumpEpoch(seal.EpochPolicies)
	})
	if err == nil {
		s.Invalidate()
	}
	return err
}

// Delete removes the named policy; deleting a missing one is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	name = NormalizeName(name)
	switch name {
	case RootPolicyName, ResponseWrappingPolicyName:
		return engine.Errorf(ErrProtected, "cannot delete %q policy", name)
	case DefaultPolicyName:
		return engine.Errorf(ErrProtected, "cannot delete default policy")
	}
	err := s.Barrier.Update(ctx, func(tx *seal.Tx) error {
		if err := tx.Delete(key(name)); err != nil {
			return err
		}
		return tx.BumpEpoch(seal.EpochPolicies)
	})
	if err == nil {
		s.Invalidate()
	}
	return err
}

// List returns the names of the policies, root and default included, sorted.
func (s *Store) List(ctx context.Context) ([]string, error) {
	names := []string{DefaultPolicyName, RootPolicyName}
	err := s.Barrier.View(ctx, func(tx *seal.ReadTx) error {
		stored, err := tx.ListNames(tuple.Pack("sys", "policy"))
		for _, n := range stored {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
		return err
	})
	sort.Strings(names)
	return names, err
}

// Invalidate drops every compiled ACL (a policy changed).
func (s *Store) Invalidate() {
	s.mu.Lock()
	s.cache = nil
	s.mu.Unlock()
}

// ACL returns the compiled ACL of policies. Policies that do not exist
// grant nothing, as in Vault.
func (s *Store) ACL(ctx context.Context, policies []string) (*Compiled, error) {
	k := strings.Join(policies, "\x00")
	s.mu.Lock()
	c, ok := s.cache[k]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	var parsed []*Policy
	needs := false
	for _, name := range policies {
		if name == RootPolicyName {
			parsed = append(parsed, RootPolicy())
			continue
		}
		text, found, err := s.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		p, err := Parse(name, text)
		if err != nil {
			return nil, err
		}
		for _, r := range p.Paths {
			if len(r.AllowedParameters) > 0 || len(r.DeniedParameters) > 0 || len(r.RequiredParameters) > 0 {
				needs = true
			}
		}
		parsed = append(parsed, p)
	}
	c = &Compiled{ACL: NewACL(parsed...), NeedsParams: needs}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[string]*Compiled{}
	}
	if len(s.cache) > 10_000 {
		clear(s.cache)
	}
	s.cache[k] = c
	s.mu.Unlock()
	return c, nil
}
