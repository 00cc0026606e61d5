// Package policy implements Vault's ACL policies: the policy language
// (HCL, or its JSON form), and the ACL that a token's policies compile into.
// The ACL decides every request (Allow), answers sys/capabilities
// (Capabilities) and the sys/internal/ui/mounts preflight (HasMountAccess).
//
// The behaviour follows Vault's vault/policy.go and vault/acl.go; the
// package's tests pin the rules, and the few places where Strongroom parts
// from Vault are named in the doc comments that concern them.
package policy

import (
	"encoding/json"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"

	"github.com/strongroom/strongroom/engine"
)

// Names of the built-in policies.
const (
	// RootPolicyName names the policy that allows everything. It has no
	// rules and cannot be written; an ACL that holds it is a root ACL.
	RootPolicyName = "root"
	// DefaultPolicyName names the policy that tokens get unless they ask
	// not to (DefaultPolicy is its initial text).
	DefaultPolicyName = "default"
	// ResponseWrappingPolicyName names the policy of a response-wrapping
	// token (Vault's responseWrappingPolicyName): it may only unwrap
	// itself. It cannot be written, deleted, listed or given to a token by
	// anything but response wrapping.
	ResponseWrappingPolicyName = "response-wrapping"
)

// ResponseWrappingPolicy is the text of the response-wrapping policy,
// Vault's responseWrappingPolicy (vault/policy_store.go).
const ResponseWrappingPolicy = `
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
`

// The capabilities a path rule can grant, as written in policies and as
// sys/capabilities reports them.
const (
	CapCreate    = "create"
	CapRead      = "read"
	CapUpdate    = "update"
	CapPatch     = "patch"
	CapDelete    = "delete"
	CapList      = "list"
	CapSudo      = "sudo"
	CapDeny      = "deny"
	CapSubscribe = "subscribe" // Vault's event subscriptions: accepted, grants no operation here
	CapRecover   = "recover"   // Vault's snapshot recovery: accepted, grants no operation here
	// CapRoot is never written in a policy: Capabilities reports it for a
	// root ACL.
	CapRoot = "root"
)

// MaxSize is the largest policy text Parse reads, in bytes.
const MaxSize = 1 << 20

// maxNesting bounds the bracket nesting of policy text, so that the
// recursive parsers below cannot be driven into exhausting the stack.
const maxNesting = 64

// capability bits, in Vault's order.
const (
	bitDeny uint32 = 1 << iota
	bitCreate
	bitRead
	bitUpdate
	bitDelete
	bitList
	bitSudo
	bitPatch
	bitSubscribe
	bitRecover
	numCaps = iota
)

// capBits maps each capability to its bit. capOrder lists them sorted by
// name, the order sys/capabilities reports them in.
var (
	capBits = map[string]uint32{
		CapDeny: bitDeny, CapCreate: bitCreate, CapRead: bitRead, CapUpdate: bitUpdate,
		CapDelete: bitDelete, CapList: bitList, CapSudo: bitSudo, CapPatch: bitPatch,
		CapSubscribe: bitSubscribe, CapRecover: bitRecover,
	}
	capOrder = []string{CapCreate, CapDelete, CapDeny, CapList, CapPatch, CapRead, CapRecover, CapSubscribe, CapSudo, CapUpdate}
)

// Policy is a parsed ACL policy. Treat it as read-only: ACLs built from it
// keep no reference to it, but Parse's callers share it.
type Policy struct {
	// Name is the policy's name, trimmed and lowercased (NormalizeName).
	Name string
	// Raw is the text the policy was parsed from, unchanged.
	Raw string
	// Paths are the path rules in the order written. Several rules may
	// name the same path; an ACL merges them.
	Paths []*PathRules
	// Templated reports that some path uses Vault's identity templating
	// ({{identity.entity.id}}, ...). Strongroom has no identity store, so
	// templated rules never match: Vault likewise drops a templated path
	// that it cannot fill in for the requesting token.
	Templated bool
}

// PathRules is one `path "..." { ... }` stanza.
type PathRules struct {
	// Path is the path as written, without one leading "/". A trailing "*"
	// makes a prefix (glob) rule; a "+" segment matches any one segment.
	Path string
	// Line is the line of the stanza in Raw.
	Line int
	// Capabilities are the granted capabilities, deduplicated and sorted;
	// ["deny"] alone when the rule denies. The deprecated `policy = "..."`
	// shorthand is expanded into them.
	Capabilities []string
	// AllowedParameters and DeniedParameters map a lowercased parameter
	// name (or "*") to the values it may (or may not) take; an empty list
	// means any value. Values are strings, bools, or json.Number. A nil map
	// means the stanza did not set the field; Vault tells nil from empty.
	AllowedParameters map[string][]any
	DeniedParameters  map[string][]any
	// RequiredParameters must all be present in the request.
	RequiredParameters []string
	// MinWrappingTTL and MaxWrappingTTL bound the response-wrapping TTL
	// the request must ask for (0: no bound).
	MinWrappingTTL time.Duration
	MaxWrappingTTL time.Duration
	// SubscribeEventTypes is Vault's subscribe_event_types, kept as read.
	SubscribeEventTypes []string
	// Templated reports identity templating in Path; such a rule never
	// matches (see Policy.Templated).
	Templated bool

	bits uint32
}

// NormalizeName returns a policy name as Vault stores it: trimmed of
// surrounding white space and lowercased.
func NormalizeName(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}

// ValidName reports whether a policy of that name may be written, with an
// error matching engine.ErrBadRequest if not: the name must not be empty,
// and it must not be one Vault keeps immutable ("root", and Vault's
// "response-wrapping" and "control-group"). Vault also refuses to delete the
// "default" policy; that is the caller's rule to apply.
func ValidName(name string) error {
	n := NormalizeName(name)
	switch n {
	case "":
		return engine.Errorf(engine.ErrBadRequest, "policy name missing")
	case RootPolicyName, "response-wrapping", "control-group":
		return engine.Errorf(engine.ErrBadRequest, "cannot update %q policy", n)
	}
	return nil
}

// RootPolicy returns the root policy: no rules, and NewACL makes a root ACL
// of it.
func RootPolicy() *Policy {
	return &Policy{Name: RootPolicyName}
}

// Parse parses the text of an ACL policy, in Vault's HCL syntax or, when
// the text starts with "{", in its JSON form. The name is normalized with
// NormalizeName and not otherwise checked (see ValidName).
//
// Every refusal matches engine.ErrBadRequest, and its message starts with
// "failed to parse policy: " and gives the line at fault, as in
//
//	failed to parse policy: path "secret/*": invalid capability "reed" on line 2
//
// Strongroom reads HCL with HCL 2's native syntax, where Vault uses HCL 1.
// The two agree on the policy language as Vault documents it. They differ in
// that HCL 2 reads "${" and "%{" in strings as templates, and Parse refuses
// them (write "$${" and "%%{" for the literal text); and in that HCL 2 wants
// "=" before an object value (allowed_parameters = {...}).
//
// Parse is stricter than Vault in three ways: every capability must be
// known, even after "deny"; parameter values must be strings, numbers or
// bools; and the Vault Enterprise keys control_group and mfa_methods are
// refused rather than ignored, since ignoring them would grant access they
// are meant to guard.
func Parse(name, text string) (*Policy, error) {
	if len(text) > MaxSize {
		return nil, parseErr("policy is larger than %d bytes", MaxSize)
	}
	if line := tooDeep(text); line > 0 {
		return nil, parseErr("nesting deeper than %d on line %d", maxNesting, line)
	}
	var (
		file  *hcl.File
		diags hcl.Diagnostics
	)
	if isJSON(text) {
		file, diags = hcljson.Parse([]byte(text), "policy.json")
	} else {
		file, diags = hclsyntax.ParseConfig([]byte(text), "policy.hcl", hcl.InitialPos)
	}
	if diags.HasErrors() {
		return nil, diagErr("", diags)
	}
	if err := checkKeys("", file.Body, topKeys); err != nil {
		return nil, err
	}
	content, diags := file.Body.Content(topSchema)
	if diags.HasErrors() {
		return nil, diagErr("", diags)
	}
	if attr, ok := content.Attributes["name"]; ok {
		// Vault accepts and ignores a name in the text.
		if _, diags := attr.Expr.Value(nil); diags.HasErrors() {
			return nil, diagErr("", diags)
		}
	}
	p := &Policy{Name: NormalizeName(name), Raw: text}
	for _, blk := range content.Blocks {
		r, err := parsePath(blk)
		if err != nil {
			return nil, err
		}
		p.Templated = p.Templated || r.Templated
		p.Paths = append(p.Paths, r)
	}
	return p, nil
}

var (
	topKeys  = []string{"name", "path"}
	pathKeys = []string{
		"comment", "policy", "capabilities", "allowed_parameters", "denied_parameters",
		"required_parameters", "min_wrapping_ttl", "max_wrapping_ttl", "subscribe_event_types",
		"mfa_methods", "control_group",
	}
	topSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "name"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "path", LabelNames: []string{"name"}}},
	}
	pathSchema = func() *hcl.BodySchema {
		s := &hcl.BodySchema{}
		for _, k := range pathKeys {
			s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: k})
		}
		return s
	}()
)

// parsePath reads one path stanza, as Vault's parsePaths does.
func parsePath(blk *hcl.Block) (*PathRules, error) {
	label := blk.Labels[0]
	line := blk.DefRange.Start.Line
	prefix := "path " + strconv.Quote(label) + ": "
	if err := checkKeys(prefix, blk.Body, pathKeys); err != nil {
		return nil, err
	}
	content, diags := blk.Body.Content(pathSchema)
	if diags.HasErrors() {
		return nil, diagErr(prefix, diags)
	}
	attrs := content.Attributes

	r := &PathRules{Path: strings.TrimPrefix(label, "/"), Line: line}
	if strings.Contains(r.Path, "+*") {
		return nil, parseErr("path %q: invalid use of wildcards ('+*' is forbidden) on line %d", r.Path, line)
	}
	if strings.Contains(r.Path, "{{") {
		if !balancedTemplate(r.Path) {
			return nil, parseErr("failed to validate policy templating: path %q: unbalanced braces on line %d", r.Path, line)
		}
		r.Templated = true
	}

	for _, k := range []string{"mfa_methods", "control_group"} {
		if a, ok := attrs[k]; ok {
			return nil, parseErr("%s%s is a Vault Enterprise feature that Strongroom does not support on line %d", prefix, k, a.NameRange.Start.Line)
		}
	}
	if a, ok := attrs["comment"]; ok {
		if _, diags := a.Expr.Value(nil); diags.HasErrors() {
			return nil, diagErr(prefix, diags)
		}
	}

	// Capabilities, with the deprecated policy shorthand appended.
	var caps []string
	if a, ok := attrs["capabilities"]; ok {
		v, err := evalStrings(prefix, a)
		if err != nil {
			return nil, err
		}
		caps = v
		lines := elementLines(a)
		for i, c := range caps {
			if _, ok := capBits[c]; !ok {
				return nil, parseErr("%sinvalid capability %q on line %d", prefix, c, lines(i))
			}
		}
	}
	if a, ok := attrs["policy"]; ok {
		s, err := evalString(prefix, a)
		if err != nil {
			return nil, err
		}
		switch s {
		case "deny":
			caps = []string{CapDeny}
		case "read":
			caps = append(caps, CapRead, CapList)
		case "write":
			caps = append(caps, CapCreate, CapRead, CapUpdate, CapDelete, CapList)
		case "sudo":
			caps = append(caps, CapCreate, CapRead, CapUpdate, CapDelete, CapList, CapSudo)
		default:
			return nil, parseErr("%sinvalid policy %q on line %d", prefix, s, a.Expr.Range().Start.Line)
		}
	}
	for _, c := range caps {
		r.bits |= capBits[c]
	}
	if r.bits&bitDeny != 0 {
		r.bits = bitDeny
	}
	r.Capabilities = bitNames(r.bits)

	var err error
	if a, ok := attrs["allowed_parameters"]; ok {
		if r.AllowedParameters, err = evalParams(prefix, a); err != nil {
			return nil, err
		}
	}
	if a, ok := attrs["denied_parameters"]; ok {
		if r.DeniedParameters, err = evalParams(prefix, a); err != nil {
			return nil, err
		}
	}
	if a, ok := attrs["required_parameters"]; ok {
		if r.RequiredParameters, err = evalStrings(prefix, a); err != nil {
			return nil, err
		}
	}
	if a, ok := attrs["subscribe_event_types"]; ok {
		if r.SubscribeEventTypes, err = evalStrings(prefix, a); err != nil {
			return nil, err
		}
	}
	if a, ok := attrs["min_wrapping_ttl"]; ok {
		if r.MinWrappingTTL, err = evalDuration(prefix, a); err != nil {
			return nil, err
		}
	}
	if a, ok := attrs["max_wrapping_ttl"]; ok {
		if r.MaxWrappingTTL, err = evalDuration(prefix, a); err != nil {
			return nil, err
		}
	}
	if r.MinWrappingTTL != 0 && r.MaxWrappingTTL != 0 && r.MaxWrappingTTL < r.MinWrappingTTL {
		return nil, parseErr("%smax_wrapping_ttl cannot be less than min_wrapping_ttl on line %d", prefix, attrs["max_wrapping_ttl"].NameRange.Start.Line)
	}
	if r.bits == bitDeny {
		// Vault keeps nothing but the deny of a denying rule.
		r.AllowedParameters, r.DeniedParameters, r.RequiredParameters = nil, nil, nil
		r.MinWrappingTTL, r.MaxWrappingTTL = 0, 0
	}
	return r, nil
}

// bitNames names the capabilities of a bitmap in sorted order: ["deny"]
// alone when it denies, none when it grants nothing.
func bitNames(bits uint32) []string {
	if bits&bitDeny != 0 {
		return []string{CapDeny}
	}
	out := []string{}
	for _, c := range capOrder {
		if bits&capBits[c] != 0 {
			out = append(out, c)
		}
	}
	return slices.Clip(out)
}

// reportNames names the capabilities of a bitmap as Vault's Capabilities
// reports them: sorted, and ["deny"] when it denies or grants nothing.
func reportNames(bits uint32) []string {
	if bits&bitDeny != 0 || bits == 0 {
		return []string{CapDeny}
	}
	return bitNames(bits)
}

// checkKeys refuses a key of body not in valid, naming the first by position.
func checkKeys(prefix string, body hcl.Body, valid []string) error {
	type key struct {
		name string
		pos  hcl.Pos
	}
	var keys []key
	switch b := body.(type) {
	case *hclsyntax.Body:
		for _, a := range b.Attributes {
			keys = append(keys, key{a.Name, a.NameRange.Start})
		}
		for _, blk := range b.Blocks {
			keys = append(keys, key{blk.Type, blk.TypeRange.Start})
		}
	default:
		// JSON: every property reads as an attribute. Duplicates and
		// type errors are left for Content to report.
		attrs, _ := body.JustAttributes()
		for _, a := range attrs {
			keys = append(keys, key{a.Name, a.NameRange.Start})
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return a.pos.Byte - b.pos.Byte })
	for _, k := range keys {
		if !slices.Contains(valid, k.name) {
			return parseErr("%sinvalid key %q on line %d", prefix, k.name, k.pos.Line)
		}
	}
	return nil
}

// eval evaluates an attribute without variables or functions.
func eval(prefix string, a *hcl.Attribute) (cty.Value, error) {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diagErr(prefix, diags)
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, parseErr("%s%s: unknown value on line %d", prefix, a.Name, a.Range.Start.Line)
	}
	return v, nil
}

func evalString(prefix string, a *hcl.Attribute) (string, error) {
	v, err := eval(prefix, a)
	if err != nil {
		return "", err
	}
	if v.IsNull() || v.Type() != cty.String {
		return "", parseErr("%s%s must be a string on line %d", prefix, a.Name, a.Range.Start.Line)
	}
	return v.AsString(), nil
}

// evalStrings reads a list of strings.
func evalStrings(prefix string, a *hcl.Attribute) ([]string, error) {
	v, err := eval(prefix, a)
	if err != nil {
		return nil, err
	}
	bad := parseErr("%s%s must be a list of strings on line %d", prefix, a.Name, a.Range.Start.Line)
	if !isList(v) {
		return nil, bad
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || e.Type() != cty.String {
			return nil, bad
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// evalParams reads allowed_parameters or denied_parameters: a map of
// parameter names to lists of values. Names are lowercased, as Vault does;
// names that collide once lowercased are merged as an ACL merges them.
func evalParams(prefix string, a *hcl.Attribute) (map[string][]any, error) {
	v, err := eval(prefix, a)
	if err != nil {
		return nil, err
	}
	if v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return nil, parseErr("%s%s must be a map of parameter names to lists of values on line %d", prefix, a.Name, a.Range.Start.Line)
	}
	lines := keyLines(a)
	out := map[string][]any{}
	for it := v.ElementIterator(); it.Next(); {
		k, list := it.Element()
		name := k.AsString()
		line := lines(name)
		if !isList(list) {
			return nil, parseErr("%s%s: %q must be a list of values on line %d", prefix, a.Name, name, line)
		}
		vals := []any{}
		for li := list.ElementIterator(); li.Next(); {
			_, e := li.Element()
			x, ok := scalarOf(e)
			if !ok {
				return nil, parseErr("%s%s: values of %q must be strings, numbers or bools on line %d", prefix, a.Name, name, line)
			}
			vals = append(vals, x)
		}
		key := strings.ToLower(name)
		if prev, dup := out[key]; dup {
			vals = mergeValues(prev, vals)
		}
		out[key] = vals
	}
	return out, nil
}

// mergeValues merges the value lists of one parameter as Vault's NewACL
// does: an empty list (any value) wins, otherwise the lists concatenate.
func mergeValues(old, add []any) []any {
	if len(old) == 0 || len(add) == 0 {
		return []any{}
	}
	return append(slices.Clone(add), old...)
}

func evalDuration(prefix string, a *hcl.Attribute) (time.Duration, error) {
	v, err := eval(prefix, a)
	if err != nil {
		return 0, err
	}
	line := a.Range.Start.Line
	var s string
	switch {
	case v.IsNull():
		return 0, nil
	case v.Type() == cty.String:
		s = v.AsString()
	case v.Type() == cty.Number:
		s = numberText(v.AsBigFloat())
	default:
		return 0, parseErr("%serror parsing %s: not a duration on line %d", prefix, a.Name, line)
	}
	d, err := engine.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, parseErr("%serror parsing %s: invalid duration %q on line %d", prefix, a.Name, s, line)
	}
	return d, nil
}

// elementLines returns the line of each element of a list attribute, or of
// the attribute when the elements cannot be told apart.
func elementLines(a *hcl.Attribute) func(i int) int {
	exprs, diags := hcl.ExprList(a.Expr)
	return func(i int) int {
		if diags.HasErrors() || i >= len(exprs) {
			return a.Range.Start.Line
		}
		return exprs[i].Range().Start.Line
	}
}

// keyLines returns the line of each key of a map attribute, or of the
// attribute for a key it cannot place.
func keyLines(a *hcl.Attribute) func(key string) int {
	lines := map[string]int{}
	if pairs, diags := hcl.ExprMap(a.Expr); !diags.HasErrors() {
		for _, kv := range pairs {
			if k, diags := kv.Key.Value(nil); !diags.HasErrors() && k.Type() == cty.String && k.IsKnown() && !k.IsNull() {
				if _, seen := lines[k.AsString()]; !seen {
					lines[k.AsString()] = kv.Key.Range().Start.Line
				}
			}
		}
	}
	return func(key string) int {
		if l, ok := lines[key]; ok {
			return l
		}
		return a.Range.Start.Line
	}
}

func isList(v cty.Value) bool {
	if v.IsNull() {
		return false
	}
	t := v.Type()
	return t.IsTupleType() || t.IsListType() || t.IsSetType()
}

// scalarOf converts a policy value: strings stay strings, bools bools, and
// numbers become json.Number in canonical form (see canonicalNumber).
func scalarOf(v cty.Value) (any, bool) {
	if v.IsNull() {
		return nil, false
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Bool:
		return v.True(), true
	case cty.Number:
		return json.Number(numberText(v.AsBigFloat())), true
	}
	return nil, false
}

// numberText writes a policy number in the canonical form of
// canonicalNumber.
func numberText(f *big.Float) string {
	if f.IsInt() {
		if i, acc := f.Int64(); acc == big.Exact {
			return strconv.FormatInt(i, 10)
		}
	}
	x, _ := f.Float64()
	if math.IsInf(x, 0) {
		// Beyond float64: keep big.Float's own shortest text.
		return f.Text('g', -1)
	}
	return floatText(x)
}

// canonicalNumber writes a number the same way whatever its spelling:
// integers in decimal, other values in Go's shortest 'g' form, so that 30,
// 30.0 and 3e1 all read "30".
func canonicalNumber(s string) string {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return floatText(f)
	}
	if f, _, err := big.ParseFloat(s, 10, 512, big.ToNearestEven); err == nil {
		return numberText(f)
	}
	return s
}

func floatText(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// isJSON reports whether text is in JSON form, as HCL 1 decides: its first
// character other than white space is "{".
func isJSON(text string) bool {
	for _, r := range text {
		if unicode.IsSpace(r) {
			continue
		}
		return r == '{'
	}
	return false
}

// tooDeep returns the line where bracket nesting first passes maxNesting,
// or 0. It counts brackets inside strings too, which can only overcount.
func tooDeep(text string) int {
	depth, line := 0, 1
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			line++
		case '[', '{', '(':
			if depth++; depth > maxNesting {
				return line
			}
		case ']', '}', ')':
			if depth > 0 {
				depth--
			}
		}
	}
	return 0
}

// balancedTemplate reports whether every "{{" in s is closed by a "}}"
// before the next "{{".
func balancedTemplate(s string) bool {
	for {
		i := strings.Index(s, "{{")
		j := strings.Index(s, "}}")
		switch {
		case i < 0:
			return j < 0
		case j < i:
			return false
		}
		s = s[i+2:]
		j = strings.Index(s, "}}")
		if j < 0 || strings.Contains(s[:j], "{{") {
			return false
		}
		s = s[j+2:]
	}
}

func parseErr(format string, args ...any) error {
	return engine.Errorf(engine.ErrBadRequest, "failed to parse policy: "+format, args...)
}

// diagErr reports the first error of diags with its position, as HCL 1's
// "At line:column:" errors do.
func diagErr(prefix string, diags hcl.Diagnostics) error {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		msg = strings.TrimSuffix(msg, ".")
		if !utf8.ValidString(msg) {
			msg = strings.ToValidUTF8(msg, "\uFFFD")
		}
		if d.Subject != nil {
			return parseErr("%sAt %d:%d: %s", prefix, d.Subject.Start.Line, d.Subject.Start.Column, msg)
		}
		return parseErr("%s%s", prefix, msg)
	}
	return parseErr("%sinvalid policy", prefix)
}
