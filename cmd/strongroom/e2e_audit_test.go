package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// TestAuditDevice enables a file audit device, makes requests that carry
// tokens and secrets, and checks the log: one JSON line per request and
// per response, sensitive values only as HMACs that sys/audit-hash
// reproduces, and neither the tokens nor the secrets anywhere in the log
// or the store.
func TestAuditDevice(t *testing.T) {
	p, c, res := initUnsealed(t, 1, 1)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	// vault audit enable file file_path=...
	if err := c.Sys().EnableAuditWithOptions("file", &vault.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": logPath}}); err != nil {
		t.Fatal(err)
	}
	audits, err := c.Sys().ListAudit()
	if err != nil || audits["file/"] == nil || audits["file/"].Type != "file" {
		t.Fatalf("list audit: %v %v", audits, err)
	}
	const secret = "tops3cret-value-9f81"
	c.Sys().Mount("secret", &vault.MountInput{Type: "kv-v2"})
	if _, err := c.Logical().Write("secret/data/app", map[string]any{"data": map[string]any{"password": secret}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Read("secret/data/app"); err != nil {
		t.Fatal(err)
	}
	child, err := c.Auth().Token().Create(&vault.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Sys().Mount("transit", &vault.MountInput{Type: "transit"})
	pt := base64.StdEncoding.EncodeToString([]byte(secret))
	if _, err := c.Logical().Write("transit/encrypt/k", map[string]any{"plaintext": pt}); err != nil {
		t.Fatal(err)
	}
	// A wrapped read and its unwrap: the wrapping token is logged hashed.
	c.SetWrappingLookupFunc(func(string, string) string { return "1m" })
	wrapped, err := c.Logical().Read("secret/data/app")
	c.SetWrappingLookupFunc(func(string, string) string { return "" })
	if err != nil || wrapped.WrapInfo == nil {
		t.Fatalf("wrapped read: %+v %v", wrapped, err)
	}
	if u, err := c.Logical().Unwrap(wrapped.WrapInfo.Token); err != nil || u == nil {
		t.Fatalf("unwrap: %+v %v", u, err)
	}
	// A denied request is audited too.
	other := newClient(t, p.addr)
	other.SetToken(child.Auth.ClientToken)
	other.Logical().Read("secret/data/app")

	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"root token": res.RootToken, "child token": child.Auth.ClientToken,
		"secret": secret, "plaintext": pt, "accessor": child.Auth.Accessor,
		"wrapping token": wrapped.WrapInfo.Token, "wrapping accessor": wrapped.WrapInfo.Accessor} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the audit log contains the %s", name)
		}
	}
	hash, err := c.Sys().AuditHash("file", secret)
	if err != nil || !strings.HasPrefix(hash, "hmac-sha256:") {
		t.Fatalf("audit-hash: %q %v", hash, err)
	}
	if !bytes.Contains(raw, []byte(hash)) {
		t.Fatal("the secret's HMAC from sys/audit-hash is not in the log")
	}
	rootHash, _ := c.Sys().AuditHash("file", res.RootToken)
	wrapHash, _ := c.Sys().AuditHash("file", wrapped.WrapInfo.Token)
	var requests, responses, denied, mounts, wraps int
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Type    string `json:"type"`
			Error   string `json:"error"`
			Request struct {
				Path        string `json:"path"`
				ClientToken string `json:"client_token"`
				MountType   string `json:"mount_type"`
				MountPoint  string `json:"mount_point"`
			} `json:"request"`
			Response struct {
				MountType  string `json:"mount_type"`
				MountPoint string `json:"mount_point"`
				WrapInfo   *struct {
					Token        string `json:"token"`
					TTL          int    `json:"ttl"`
					CreationPath string `json:"creation_path"`
				} `json:"wrap_info"`
			} `json:"response"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not a JSON line: %s", sc.Text())
		}
		switch line.Type {
		case "request":
			requests++
		case "response":
			responses++
			if strings.Contains(line.Error, "permission denied") {
				denied++
			}
		}
		if w := line.Response.WrapInfo; w != nil {
			if w.Token != wrapHash || w.TTL != 60 || w.CreationPath != "secret/data/app" {
				t.Fatalf("wrap_info: %s", sc.Text())
			}
			wraps++
		}
		// Each entry names the mount serving its path, as Vault's do.
		wantMount := map[string][2]string{"secret/data/app": {"kv", "secret/"}, "transit/encrypt/k": {"transit", "transit/"},
			"auth/token/create": {"token", "auth/token/"}, "sys/mounts/secret": {"system", "sys/"}}[line.Request.Path]
		if wantMount[0] != "" && (line.Request.MountType != wantMount[0] || line.Request.MountPoint != wantMount[1] ||
			(line.Type == "response" && (line.Response.MountType != wantMount[0] || line.Response.MountPoint != wantMount[1]))) {
			t.Fatalf("mount of %s: %s", line.Request.Path, sc.Text())
		}
		if wantMount[0] != "" {
			mounts++
		}
		if line.Request.Path == "secret/data/app" && line.Request.ClientToken != rootHash && line.Request.ClientToken != "" &&
			!strings.HasPrefix(line.Request.ClientToken, "hmac-sha256:") {
			t.Fatalf("client token not hashed: %s", sc.Text())
		}
	}
	if requests < 6 || requests != responses || denied != 1 || mounts < 10 || wraps != 1 {
		t.Fatalf("%d requests, %d responses, %d denied, %d entries checked for their mount, %d wrapped", requests, responses, denied, mounts, wraps)
	}

	// Fail closed: with a second device on a full disk, requests still
	// work; once the healthy device is gone, they fail with 500.
	if err := c.Sys().EnableAuditWithOptions("full", &vault.EnableAuditOptions{Type: "file", Options: map[string]string{"file_path": "/dev/full"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Read("secret/data/app"); err != nil {
		t.Fatalf("with one healthy device: %v", err)
	}
	// The disable takes effect; its own response can no longer be
	// audited by any device, so it is answered 500 (fail closed).
	err = c.Sys().DisableAudit("file")
	wantStatus(t, err, 500, "internal error")
	_, err = c.Logical().Read("secret/data/app")
	wantStatus(t, err, 500, "internal error")

	// Neither the tokens nor the secret are in the store.
	p.stop(t)
	var dbPath string
	for _, f := range strings.Fields(p.cmd.String()) {
		if strings.HasSuffix(f, ".hcl") {
			dbPath = filepath.Join(filepath.Dir(f), "data", "strongroom.db")
		}
	}
	db, err := os.ReadFile(dbPath)
	if err != nil || len(db) == 0 {
		t.Fatalf("store file: %v", err)
	}
	for name, s := range map[string]string{"root token": res.RootToken, "child token": child.Auth.ClientToken,
		"secret": secret, "plaintext": pt, "accessor": child.Auth.Accessor,
		"wrapping token": wrapped.WrapInfo.Token, "wrapping accessor": wrapped.WrapInfo.Accessor} {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("the store contains the %s", name)
		}
	}
}
