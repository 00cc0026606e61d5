package policy_test

import (
	"fmt"

	"github.com/strongroom/strongroom/engine"
	"github.com/strongroom/strongroom/engine/policy"
)

func Example() {
	dev, err := policy.Parse("dev", `
path "secret/data/*" {
  capabilities = ["create", "read", "update", "list"]
}
path "secret/data/prod/*" {
  capabilities = ["read"]
  denied_parameters = { "version" = [] }
}
path "secret/data/+/admin" {
  capabilities = ["deny"]
}
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	def, _ := policy.Parse(policy.DefaultPolicyName, policy.DefaultPolicy)
	acl := policy.NewACL(dev, def)

	for _, req := range []policy.Request{
		{Path: "secret/data/app", Operation: engine.OpUpdate, Create: true},
		{Path: "secret/data/prod/db", Operation: engine.OpUpdate},
		{Path: "secret/data/prod/db", Operation: engine.OpRead, Params: map[string]any{"version": "2"}},
		{Path: "secret/data/team/admin", Operation: engine.OpRead},
		{Path: "auth/token/lookup-self", Operation: engine.OpRead},
	} {
		res := acl.Allow(req)
		fmt.Printf("%-6v %-24s allowed=%-5v rule=%q\n", req.Operation, req.Path, res.Allowed, res.Rule)
	}
	fmt.Println(acl.Capabilities("secret/data/prod/db"))
	fmt.Println(acl.HasMountAccess("secret/"), acl.HasMountAccess("transit/"))

	_, err = policy.Parse("bad", "path \"a\" {\n  capabilities = [\"reed\"]\n}\n")
	fmt.Println(err)
	// Output:
	// update secret/data/app          allowed=true  rule="secret/data/*"
	// update secret/data/prod/db      allowed=false rule="secret/data/prod/*"
	// read   secret/data/prod/db      allowed=false rule="secret/data/prod/*"
	// read   secret/data/team/admin   allowed=false rule="secret/data/+/admin"
	// read   auth/token/lookup-self   allowed=true  rule="auth/token/lookup-self"
	// [read]
	// true false
	// failed to parse policy: path "a": invalid capability "reed" on line 2
}
