package httpapi

import (
	"net/url"
	"slices"
	"testing"
)

func TestSysQueryWarnings(t *testing.T) {
	ignored := func(names string) string { return "Endpoint ignored these unrecognized parameters: [" + names + "]" }
	for _, tc := range []struct {
		path, query string
		want        []string
	}{
		{"sys/mounts/secret/tune", "max_lease_ttl=1h&zz=1", []string{ignored("zz")}},
		// the mount path's fields are not the tune path's
		{"sys/mounts/secret/tune", "type=kv", []string{ignored("type")}},
		{"sys/mounts/secret", "type=kv&max_lease_ttl=1h", []string{ignored("max_lease_ttl")}},
		{"sys/mounts/a/b/tune", "default_lease_ttl=1", nil},
		{"sys/auth/token/tune", "token_type=batch", nil},
		{"sys/policies/acl/", "b=1&a=2", []string{ignored("a b")}},
		{"sys/policy/p", "rules=x", nil},
		{"sys/policies/acl/p", "rules=x", []string{ignored("rules")}},
		{"sys/policies/acl/p", "name=", []string{"Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [name]"}},
		{"sys/remount/status/m1", "migration_id=m2", []string{"Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [migration_id]"}},
		// Vault deletes list only when it is true (then the read is a LIST).
		{"sys/mounts", "list=false", []string{ignored("list")}},
		// paths no system-backend read serves
		{"sys/health", "zz=1", nil},
		{"sys/seal-status", "zz=1", nil},
		{"sys/mounts/", "zz=1", nil},
		{"sys/mounts/secret", "", nil},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := sysQueryWarnings(tc.path, q); !slices.Equal(got, tc.want) {
			t.Errorf("%s?%s: %q, want %q", tc.path, tc.query, got, tc.want)
		}
	}
}
