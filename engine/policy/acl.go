package policy

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/engine"
)

// ACL is the compiled union of a token's policies. It is immutable and safe
// for concurrent use.
type ACL struct {
	root bool

	// exact holds the rules without wildcards, by path.
	exact     map[string]*rule
	exactKeys []string // sorted, for HasMountAccess
	// prefixKeys are the paths of the trailing-glob rules without their
	// "*", sorted; prefixRules[i] is the rule of prefixKeys[i].
	prefixKeys  []string
	prefixRules []*rule
	// wildcards are the rules with "+" segments, highest priority first.
	// wcByFirst holds, for each literal first segment of such a rule, the
	// rules that can match a path starting with it (those with that first
	// segment and those starting with "+"), and wcAnyFirst the rules that
	// can match any other path (those starting with "+"), in the same
	// order.
	wildcards  []*wcRule
	wcByFirst  map[string][]*wcRule
	wcAnyFirst []*wcRule
}

// Request is what Allow decides.
type Request struct {
	// Path is the full request path, mount included ("secret/data/foo").
	// Leading slashes are ignored. A LIST names the directory with a
	// trailing slash, as Vault's front door makes it ("secret/metadata/");
	// Allow also finds the rules that name it without one.
	Path      string
	Operation engine.Operation
	// Create marks an OpUpdate whose target does not exist yet: it needs
	// the create capability instead of update.
	Create bool
	// Params are the request's top-level body fields (for a read, its
	// query parameters), checked against the rule's allowed, denied and
	// required parameters for reads, creates, updates and patches.
	// Values are as encoding/json decodes them (json.Number or float64
	// for numbers).
	Params map[string]any
	// WrapTTL is the response-wrapping TTL the request asks for, zero for
	// none. A rule with min_wrapping_ttl or max_wrapping_ttl allows only
	// requests wrapped within its bounds, as in Vault.
	WrapTTL time.Duration
}

// Result is Allow's decision. Its slices are shared with the ACL and must
// not be modified.
type Result struct {
	Allowed bool
	// RootPrivs reports that the rule that decided grants sudo (or that
	// the ACL is root), as Vault's RootPrivs: paths that need sudo check
	// it, and it is set even when the operation itself is refused.
	RootPrivs bool
	// IsRoot reports a root ACL.
	IsRoot bool
	// Capabilities are those of the rule that decided, sorted, as
	// sys/capabilities reports them: ["deny"] when none, ["root"] for a
	// root ACL.
	Capabilities []string
	// Rule is the path of the rule that decided, as written in the
	// policies; empty when none matched or for a root ACL.
	Rule string
	// Policies name the policies that granted the operation's capability
	// on Rule, when Allowed (Vault's granting policies).
	Policies []string
	// Reason says why a request was refused, for logs; empty if Allowed.
	Reason string
}

// rule is the merged permissions of one path across policies.
type rule struct {
	pattern    string
	bits       uint32
	names      []string // as Capabilities reports them
	minWrap    time.Duration
	maxWrap    time.Duration
	allowed    map[string][]value // nil when no allowed_parameters
	allowedAll bool               // allowed has "*"
	denied     map[string][]value // nil when no denied_parameters
	deniedAll  bool               // denied has "*"
	required   []string           // lowercased
	granting   [numCaps][]string  // policy names by capability bit index
}

// wcRule is a rule whose path has "+" segments, with the terms of Vault's
// priority order.
type wcRule struct {
	*rule
	prio
	parts []string // wcPath split at "/"
}

// prio holds what orders the matches of a non-exact path (Vault's
// wcPathDescr).
type prio struct {
	firstWC   int    // index of the first "+", or of the glob of a prefix rule
	isPrefix  bool   // ends in "*"
	wildcards int    // number of "+" segments
	wcPath    string // the path without its trailing "*"
}

// lower reports whether p has lower priority than q, as Vault's docs say:
// P1 is lower if its first wildcard (+) or glob (*) comes earlier; if it
// ends in * and P2 does not; if it has more + segments; if it is shorter;
// if it is smaller lexicographically.
func (p *prio) lower(q *prio) bool {
	if p.firstWC != q.firstWC {
		return p.firstWC < q.firstWC
	}
	if p.isPrefix != q.isPrefix {
		return p.isPrefix
	}
	if p.wildcards != q.wildcards {
		return p.wildcards > q.wildcards
	}
	if len(p.wcPath) != len(q.wcPath) {
		return len(p.wcPath) < len(q.wcPath)
	}
	return p.wcPath < q.wcPath
}

// perms are a rule's permissions while NewACL merges them, as Vault's
// ACLPermissions (nil maps and slices mean "not set").
type perms struct {
	pattern  string
	bits     uint32
	minWrap  time.Duration
	maxWrap  time.Duration
	allowed  map[string][]any
	denied   map[string][]any
	required []string
	granting [numCaps][]string
}

type ruleKind uint8

const (
	kindExact ruleKind = iota
	kindPrefix
	kindWildcard
)

// classify gives the kind and key of a rule's path, as Vault's parsePaths:
// "+" as a whole segment makes a segment-wildcard rule (keyed by its full
// path, trailing "*" included); otherwise a trailing "*" makes a prefix
// rule (keyed without it); any other "*" or "+" is literal.
func classify(path string) (ruleKind, string) {
	if path == "+" || strings.Contains(path, "/+") || strings.HasPrefix(path, "+/") {
		return kindWildcard, path
	}
	if key, ok := strings.CutSuffix(path, "*"); ok {
		return kindPrefix, key
	}
	return kindExact, path
}

// NewACL compiles policies into an ACL. Nil policies are skipped. If one of
// them is the root policy (named "root"), the ACL is a root ACL that allows
// everything; Vault refuses root alongside other policies, and Strongroom,
// like its token store's IsRoot, lets root win.
//
// Rules for the same path pattern are merged as in Vault's NewACL:
// capabilities are unioned; a deny in any of them leaves only the deny;
// allowed and denied parameters merge key by key, an empty value list (any
// value) winning over a list of values, lists of values concatenating; a
// stanza without parameter restrictions lifts none set by another;
// required parameters are unioned; the smallest wrapping TTL bounds win.
// Templated rules are dropped (see Policy.Templated).
func NewACL(policies ...*Policy) *ACL {
	a := &ACL{exact: map[string]*rule{}}
	for _, p := range policies {
		if p != nil && NormalizeName(p.Name) == RootPolicyName {
			a.root = true
			return a
		}
	}
	byKind := [3]map[string]*perms{{}, {}, {}}
	for _, p := range policies {
		if p == nil {
			continue
		}
		for _, r := range p.Paths {
			if r == nil || r.Templated {
				continue
			}
			kind, key := classify(r.Path)
			if cur, ok := byKind[kind][key]; ok {
				cur.merge(r, p.Name)
			} else {
				byKind[kind][key] = newPerms(r, p.Name)
			}
		}
	}

	for key, pm := range byKind[kindExact] {
		a.exact[key] = pm.compile()
		a.exactKeys = append(a.exactKeys, key)
	}
	slices.Sort(a.exactKeys)
	for _, key := range slices.Sorted(maps.Keys(byKind[kindPrefix])) {
		a.prefixKeys = append(a.prefixKeys, key)
		a.prefixRules = append(a.prefixRules, byKind[kindPrefix][key].compile())
	}
	for full, pm := range byKind[kindWildcard] {
		w := &wcRule{rule: pm.compile()}
		w.firstWC = strings.Index(full, "+")
		w.wcPath, w.isPrefix = strings.CutSuffix(full, "*")
		w.parts = strings.Split(w.wcPath, "/")
		for _, s := range w.parts {
			if s == "+" {
				w.wildcards++
			}
		}
		a.wildcards = append(a.wildcards, w)
	}
	slices.SortFunc(a.wildcards, func(x, y *wcRule) int {
		switch {
		case y.lower(&x.prio):
			return -1
		case x.lower(&y.prio):
			return 1
		}
		return 0
	})
	a.wcByFirst = map[string][]*wcRule{}
	for _, w := range a.wildcards {
		if w.parts[0] != "+" {
			a.wcByFirst[w.parts[0]] = nil
		}
	}
	for _, w := range a.wildcards {
		if w.parts[0] == "+" {
			a.wcAnyFirst = append(a.wcAnyFirst, w)
			for k, list := range a.wcByFirst {
				a.wcByFirst[k] = append(list, w)
			}
		} else {
			a.wcByFirst[w.parts[0]] = append(a.wcByFirst[w.parts[0]], w)
		}
	}
	return a
}

func newPerms(r *PathRules, policy string) *perms {
	pm := &perms{
		pattern:  r.Path,
		bits:     r.bits,
		minWrap:  r.MinWrappingTTL,
		maxWrap:  r.MaxWrappingTTL,
		allowed:  cloneParams(r.AllowedParameters),
		denied:   cloneParams(r.DeniedParameters),
		required: slices.Clone(r.RequiredParameters),
	}
	pm.grant(r.bits, policy)
	return pm
}

// merge adds a rule for the same path, as Vault's NewACL does.
func (pm *perms) merge(r *PathRules, policy string) {
	switch {
	case pm.bits&bitDeny != 0:
		return
	case r.bits&bitDeny != 0:
		pm.bits = bitDeny
		pm.allowed, pm.denied = nil, nil
		return
	}
	pm.bits |= r.bits
	pm.grant(r.bits, policy)

	if r.MaxWrappingTTL > 0 && (pm.maxWrap == 0 || r.MaxWrappingTTL < pm.maxWrap) {
		pm.maxWrap = r.MaxWrappingTTL
	}
	if r.MinWrappingTTL > 0 && (pm.minWrap == 0 || r.MinWrappingTTL < pm.minWrap) {
		pm.minWrap = r.MinWrappingTTL
	}
	pm.allowed = mergeParams(pm.allowed, r.AllowedParameters)
	pm.denied = mergeParams(pm.denied, r.DeniedParameters)
	for _, k := range r.RequiredParameters {
		if !slices.Contains(pm.required, k) {
			pm.required = append(pm.required, k)
		}
	}
}

func (pm *perms) grant(bits uint32, policy string) {
	for i := range numCaps {
		if bits&(1<<i) != 0 && !slices.Contains(pm.granting[i], policy) {
			pm.granting[i] = append(pm.granting[i], policy)
		}
	}
}

func cloneParams(m map[string][]any) map[string][]any {
	if m == nil {
		return nil
	}
	out := make(map[string][]any, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// mergeParams merges add into cur as Vault merges allowed_parameters and
// denied_parameters.
func mergeParams(cur, add map[string][]any) map[string][]any {
	if len(add) == 0 {
		return cur
	}
	if cur == nil {
		return cloneParams(add)
	}
	for k, v := range add {
		if old, ok := cur[k]; ok {
			cur[k] = mergeValues(old, v)
		} else {
			cur[k] = slices.Clone(v)
		}
	}
	return cur
}

func (pm *perms) compile() *rule {
	r := &rule{
		pattern:  pm.pattern,
		bits:     pm.bits,
		names:    reportNames(pm.bits),
		minWrap:  pm.minWrap,
		maxWrap:  pm.maxWrap,
		granting: pm.granting,
	}
	if len(pm.allowed) > 0 {
		r.allowed = make(map[string][]value, len(pm.allowed))
		for k, v := range pm.allowed {
			r.allowed[k] = compileValues(v)
		}
		_, r.allowedAll = pm.allowed["*"]
	}
	if len(pm.denied) > 0 {
		r.denied = make(map[string][]value, len(pm.denied))
		for k, v := range pm.denied {
			r.denied[k] = compileValues(v)
		}
		_, r.deniedAll = pm.denied["*"]
	}
	for _, k := range pm.required {
		r.required = append(r.required, strings.ToLower(k))
	}
	return r
}

var (
	rootNames = []string{CapRoot}
	denyNames = []string{CapDeny}
)

// IsRoot reports whether the ACL is a root ACL.
func (a *ACL) IsRoot() bool { return a.root }

// Allow decides a request as Vault's ACL.AllowOperation does:
//
//   - A root ACL allows everything, with RootPrivs.
//   - The rule that decides is the exact rule for the path if any; for a
//     LIST, then the exact rule for the path without its trailing slash,
//     then the best non-exact rule for the path without it; then the best
//     non-exact rule for the path. The best non-exact rule is the
//     highest-priority match among the longest matching glob rule and the
//     matching "+" rules (see prio.lower). No rule: refused.
//   - "deny" refuses; otherwise the rule must grant the operation's
//     capability: read, list, delete, patch, or update (create when
//     Request.Create).
//   - A rule with wrapping TTL bounds needs WrapTTL within them.
//   - For reads, creates, updates and patches: every required parameter
//     must be present; then a request without parameters is allowed; a
//     denied "*" refuses any parameter, and a denied parameter refuses when
//     its value matches the denied list; with allowed parameters, only
//     listed parameters (all, with "*") are allowed, with values that match
//     their lists. Parameter names are compared lowercased.
func (a *ACL) Allow(req Request) Result {
	if a.root {
		return Result{Allowed: true, RootPrivs: true, IsRoot: true, Capabilities: rootNames}
	}
	var need uint32
	switch req.Operation {
	case engine.OpRead:
		need = bitRead
	case engine.OpList:
		need = bitList
	case engine.OpDelete:
		need = bitDelete
	case engine.OpPatch:
		need = bitPatch
	case engine.OpUpdate:
		need = bitUpdate
		if req.Create {
			need = bitCreate
		}
	default:
		return Result{Capabilities: denyNames, Reason: "unsupported operation"}
	}

	r := a.lookup(strings.TrimLeft(req.Path, "/"), req.Operation == engine.OpList)
	if r == nil {
		return Result{Capabilities: denyNames, Reason: "no policy grants access to the path"}
	}
	res := Result{RootPrivs: r.bits&bitSudo != 0, Capabilities: r.names, Rule: r.pattern}
	switch {
	case r.bits&bitDeny != 0:
		res.Reason = "a policy denies the path"
		return res
	case r.bits&need == 0:
		res.Reason = missingReason[need]
		return res
	case r.maxWrap > 0 && (req.WrapTTL == 0 || req.WrapTTL > r.maxWrap),
		r.minWrap > 0 && (req.WrapTTL == 0 || req.WrapTTL < r.minWrap),
		r.minWrap != 0 && r.maxWrap != 0 && r.maxWrap < r.minWrap:
		res.Reason = "the response-wrapping TTL is outside the bounds the policy sets"
		return res
	}
	if need != bitList && need != bitDelete {
		if reason := r.checkParams(req.Params); reason != "" {
			res.Reason = reason
			return res
		}
	}
	res.Allowed = true
	res.Policies = r.granting[bitIndex(need)]
	return res
}

var missingReason = map[uint32]string{
	bitRead:   `no policy grants the "read" capability on the path`,
	bitList:   `no policy grants the "list" capability on the path`,
	bitDelete: `no policy grants the "delete" capability on the path`,
	bitPatch:  `no policy grants the "patch" capability on the path`,
	bitUpdate: `no policy grants the "update" capability on the path`,
	bitCreate: `no policy grants the "create" capability on the path`,
}

func bitIndex(b uint32) int {
	for i := range numCaps {
		if b == 1<<i {
			return i
		}
	}
	return 0
}

// checkParams applies the rule's parameter constraints, returning why it
// refuses, or "".
func (r *rule) checkParams(params map[string]any) string {
	for _, k := range r.required {
		if _, ok := params[k]; !ok {
			return "missing required parameter " + strconv.Quote(k)
		}
	}
	if len(params) == 0 {
		return ""
	}
	if r.denied != nil {
		if r.deniedAll {
			return "all parameters are denied"
		}
		for k, v := range params {
			if list, ok := r.denied[strings.ToLower(k)]; ok && deniedValue(v, list) {
				return "parameter " + strconv.Quote(k) + " is denied"
			}
		}
	}
	if r.allowed == nil || (r.allowedAll && len(r.allowed) == 1) {
		return ""
	}
	for k, v := range params {
		list, ok := r.allowed[strings.ToLower(k)]
		if !ok && !r.allowedAll {
			return "parameter " + strconv.Quote(k) + " is not allowed"
		}
		if ok && !allowedValue(v, list) {
			return "value of parameter " + strconv.Quote(k) + " is not allowed"
		}
	}
	return ""
}

// lookup finds the rule that decides path (without leading slashes), with
// Vault's fallbacks for LIST.
func (a *ACL) lookup(path string, list bool) *rule {
	if r := a.exact[path]; r != nil {
		return r
	}
	if list {
		trimmed, slash := strings.CutSuffix(path, "/")
		if r := a.exact[trimmed]; r != nil {
			return r
		}
		if slash {
			if r := a.nonExact(trimmed); r != nil {
				return r
			}
		}
	}
	return a.nonExact(path)
}

// nonExact is Vault's CheckAllowedFromNonExactPaths: the highest-priority
// rule among the longest matching glob rule and the matching "+" rules.
func (a *ACL) nonExact(path string) *rule {
	key, pr := a.longestPrefix(path)
	var pp prio
	if pr != nil {
		pp = prio{firstWC: len(key), isPrefix: true, wcPath: key}
	}
	cands := a.wcAnyFirst
	if len(a.wcByFirst) > 0 {
		first, _, _ := strings.Cut(path, "/")
		if list, ok := a.wcByFirst[first]; ok {
			cands = list
		}
	}
	if len(cands) == 0 {
		return pr
	}
	var segs pathSegs
	split := segs.split(path)
	for _, w := range cands {
		if pr != nil && w.lower(&pp) {
			break // the rest rank lower still
		}
		if split && w.matchSegs(path, &segs) || !split && w.match(path) {
			return w.rule
		}
	}
	return pr
}

// maxSegs is the number of segments pathSegs indexes; longer paths are
// matched segment by segment instead.
const maxSegs = 32

// pathSegs indexes the segments of a path: segment i is
// path[start[i]:start[i+1]-1].
type pathSegs struct {
	n     int
	start [maxSegs + 1]int
}

// split indexes path, reporting false if it has more than maxSegs segments.
func (s *pathSegs) split(path string) bool {
	s.n, s.start[0] = 0, 0
	for i := 0; ; {
		j := strings.IndexByte(path[i:], '/')
		if s.n++; s.n > maxSegs {
			return false
		}
		if j < 0 {
			s.start[s.n] = len(path) + 1
			return true
		}
		i += j + 1
		s.start[s.n] = i
	}
}

// matchSegs is match on an indexed path.
func (w *wcRule) matchSegs(path string, s *pathSegs) bool {
	n := len(w.parts)
	if s.n < n || !w.isPrefix && s.n != n {
		return false
	}
	for i, part := range w.parts {
		if part == "+" {
			continue
		}
		seg := path[s.start[i] : s.start[i+1]-1]
		if w.isPrefix && i == n-1 {
			return strings.HasPrefix(seg, part)
		}
		if part != seg {
			return false
		}
	}
	return true
}

// longestPrefix finds the longest prefix-rule key that prefixes s. The
// largest key not above s, if it prefixes s, is the longest one; if not,
// any key that does prefixes the common prefix of the two, so the search
// repeats on that, shorter, string.
func (a *ACL) longestPrefix(s string) (string, *rule) {
	keys := a.prefixKeys
	for {
		i, found := slices.BinarySearch(keys, s)
		if found {
			return s, a.prefixRules[i]
		}
		if i == 0 {
			return "", nil
		}
		i--
		k := keys[i]
		n := 0
		for n < len(k) && n < len(s) && k[n] == s[n] {
			n++
		}
		if n == len(k) {
			return k, a.prefixRules[i]
		}
		s, keys = s[:n], keys[:i]
	}
}

// match reports whether path matches the rule as in Vault: as many segments
// as the rule (at least as many for a prefix rule); "+" matches any one
// segment; other segments match themselves, but the last segment of a
// prefix rule matches any segment it prefixes, and whatever follows.
func (w *wcRule) match(path string) bool {
	last := len(w.parts) - 1
	rest := path
	for i, part := range w.parts {
		seg, tail, more := strings.Cut(rest, "/")
		if i == last {
			if w.isPrefix {
				return part == "+" || strings.HasPrefix(seg, part)
			}
			return !more && (part == "+" || part == seg)
		}
		if !more || (part != "+" && part != seg) {
			return false
		}
		rest = tail
	}
	return false
}

// Capabilities returns the capabilities the ACL grants on path, as Vault's
// sys/capabilities and sys/capabilities-self report them: those of the
// rule that decides a LIST of path (see Allow), sorted; ["deny"] when that
// rule denies or no rule matches; ["root"] for a root ACL. The slice is the
// caller's.
func (a *ACL) Capabilities(path string) []string {
	if a.root {
		return []string{CapRoot}
	}
	r := a.lookup(strings.TrimLeft(path, "/"), true)
	if r == nil {
		return []string{CapDeny}
	}
	return slices.Clone(r.names)
}

// HasMountAccess reports whether the ACL grants anything on the mount at
// path ("secret/"; a missing trailing slash is added), as Vault's
// hasMountAccess decides which mounts sys/internal/ui/mounts lists: a root
// ACL does; so does one whose Capabilities on path are not ["deny"]; else
// one with an exact or glob rule below path that grants a capability other
// than deny; else one with a "+" rule that, matched segment by segment
// against the mount path, covers it and grants something other than deny.
func (a *ACL) HasMountAccess(path string) bool {
	if a.root {
		return true
	}
	path = strings.TrimLeft(path, "/")
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	if r := a.lookup(path, true); r != nil && r.bits&bitDeny == 0 && r.bits != 0 {
		return true
	}
	grants := func(r *rule) bool { return r.bits&bitDeny == 0 && r.bits != 0 }
	i, _ := slices.BinarySearch(a.exactKeys, path)
	for ; i < len(a.exactKeys) && strings.HasPrefix(a.exactKeys[i], path); i++ {
		if grants(a.exact[a.exactKeys[i]]) {
			return true
		}
	}
	i, _ = slices.BinarySearch(a.prefixKeys, path)
	for ; i < len(a.prefixKeys) && strings.HasPrefix(a.prefixKeys[i], path); i++ {
		if grants(a.prefixRules[i]) {
			return true
		}
	}
	// Vault's CheckAllowedFromNonExactPaths with bareMount: walk the rule's
	// segments against the mount's, keeping those that match, and at the
	// mount's last segment see whether what was kept covers the mount.
	pathParts := strings.Split(path, "/")
	for _, w := range a.wildcards {
		if !grants(w.rule) {
			continue
		}
		var segments []string
		for i, part := range w.parts {
			switch {
			case part == "+", part == pathParts[i]:
				segments = append(segments, pathParts[i])
			case w.isPrefix && i == len(w.parts)-1 && strings.HasPrefix(pathParts[i], part):
				segments = append(segments, pathParts[i:]...)
			}
			if i == len(pathParts)-2 {
				if strings.HasPrefix(strings.Join(segments, "/")+"/", path) {
					return true
				}
				break
			}
		}
	}
	return false
}
