package main

import (
	"crypto/subtle"
	"encoding/base64"
	"testing"

	vault "github.com/hashicorp/vault/api"
)

// initUnsealed starts a server, initialises it shares/threshold and unseals it.
func initUnsealed(t *testing.T, shares, threshold int) (*proc, *vault.Client, *vault.InitResponse) {
	t.Helper()
	dir := t.TempDir()
	p := startServer(t, "-config", writeConfig(t, dir, boltConfig(dir)))
	c := newClient(t, p.addr)
	return p, c, initAndUnseal(t, c, shares, threshold)
}

// initAndUnseal runs `vault operator init` with unseal key shares on c's
// server, unseals it with threshold of them, and logs c in with the root
// token.
func initAndUnseal(t *testing.T, c *vault.Client, shares, threshold int) *vault.InitResponse {
	t.Helper()
	res, err := c.Sys().Init(&vault.InitRequest{SecretShares: shares, SecretThreshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range res.Keys[:threshold] {
		if _, err := c.Sys().Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	c.SetToken(res.RootToken)
	return res
}

// TestRekey follows `vault operator rekey -init -key-shares=3
// -key-threshold=2`, then `vault operator rekey -nonce=N <key>` per old key:
// the new keys unseal, the old ones no longer do.
func TestRekey(t *testing.T) {
	_, c, res := initUnsealed(t, 5, 3)
	sys := c.Sys()
	st, err := sys.RekeyStatus()
	if err != nil || st.Started || st.Required != 3 {
		t.Fatalf("rekey status before init: %+v %v", st, err)
	}
	_, err = sys.RekeyInit(&vault.RekeyInitRequest{SecretShares: 2, SecretThreshold: 3})
	wantStatus(t, err, 400, "threshold cannot be larger than shares")
	st, err = sys.RekeyInit(&vault.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil || !st.Started || st.N != 3 || st.T != 2 || st.Nonce == "" {
		t.Fatalf("rekey init: %+v %v", st, err)
	}
	_, err = sys.RekeyInit(&vault.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	wantStatus(t, err, 400, "already in progress")
	_, err = sys.RekeyUpdate(res.Keys[0], "wrong-nonce")
	wantStatus(t, err, 400, "incorrect nonce")
	upd, err := sys.RekeyUpdate(res.Keys[0], st.Nonce)
	if err != nil || upd.Complete {
		t.Fatalf("first rekey key: %+v %v", upd, err)
	}
	_, err = sys.RekeyUpdate(res.Keys[0], st.Nonce)
	wantStatus(t, err, 400, "already provided")
	sys.RekeyUpdate(res.Keys[1], st.Nonce)
	upd, err = sys.RekeyUpdate(res.Keys[4], st.Nonce)
	if err != nil || !upd.Complete || len(upd.Keys) != 3 || len(upd.KeysB64) != 3 {
		t.Fatalf("rekey completion: %+v %v", upd, err)
	}
	if err := sys.Seal(); err != nil {
		t.Fatal(err)
	}
	ss, _ := sys.SealStatus()
	if ss.T != 2 || ss.N != 3 {
		t.Fatalf("seal status after rekey: %+v", ss)
	}
	// The old keys are refused (two old shares combine to a wrong key).
	sys.Unseal(res.Keys[0])
	_, err = sys.Unseal(res.Keys[1])
	wantStatus(t, err, 400, "invalid key")
	for _, k := range upd.Keys[1:] {
		if ss, err = sys.Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	if ss.Sealed {
		t.Fatal("new keys did not unseal")
	}
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("data after rekey: %v", err)
	}
	// Recovery rekeying does not apply to a Shamir seal.
	_, err = sys.RekeyRecoveryKeyInit(&vault.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	wantStatus(t, err, 400, "recovery rekeying not supported")
	// Cancel.
	sys.RekeyInit(&vault.RekeyInitRequest{SecretShares: 3, SecretThreshold: 2})
	if err := sys.RekeyCancel(); err != nil {
		t.Fatal(err)
	}
	if st, _ = sys.RekeyStatus(); st.Started {
		t.Fatal("rekey still started after cancel")
	}
}

// TestGenerateRoot follows `vault operator generate-root -init`, three
// `vault operator generate-root -nonce=N <key>`, then `-decode -otp`.
func TestGenerateRoot(t *testing.T) {
	p, c, res := initUnsealed(t, 5, 3)
	anon := newClient(t, p.addr)
	sys := anon.Sys()
	st, err := sys.GenerateRootInit("", "")
	if err != nil || !st.Started || st.OTP == "" || st.OTPLength != len(st.OTP) || st.Required != 3 {
		t.Fatalf("generate-root init: %+v %v", st, err)
	}
	otp, nonce := st.OTP, st.Nonce
	_, err = sys.GenerateRootInit("", "")
	wantStatus(t, err, 400, "already in progress")
	st, err = sys.GenerateRootUpdate(res.Keys[2], nonce)
	if err != nil || st.Progress != 1 || st.Complete {
		t.Fatalf("first key: %+v %v", st, err)
	}
	sys.GenerateRootUpdate(res.Keys[3], nonce)
	st, err = sys.GenerateRootUpdate(res.Keys[4], nonce)
	if err != nil || !st.Complete || st.EncodedToken == "" {
		t.Fatalf("completion: %+v %v", st, err)
	}
	// The CLI's -decode: base64 (unpadded) then XOR with the OTP.
	raw, err := base64.RawStdEncoding.DecodeString(st.EncodedToken)
	if err != nil || len(raw) != len(otp) {
		t.Fatalf("encoded token: %v", err)
	}
	tok := make([]byte, len(raw))
	subtle.XORBytes(tok, raw, []byte(otp))
	if string(tok) == res.RootToken {
		t.Fatal("generate-root returned the old root token")
	}
	anon.SetToken(string(tok))
	sec, err := anon.Auth().Token().LookupSelf()
	if err != nil {
		t.Fatalf("new root token: %v", err)
	}
	if pol, _ := sec.TokenPolicies(); len(pol) != 1 || pol[0] != "root" {
		t.Fatalf("new root token policies: %v", pol)
	}
	// A wrong quorum is refused and resets the attempt.
	st, _ = sys.GenerateRootInit("", "")
	sys.GenerateRootUpdate(res.Keys[0], st.Nonce)
	wrong := make([]byte, 33)
	wrong[32] = 9
	sys.GenerateRootUpdate(base64.StdEncoding.EncodeToString(wrong), st.Nonce)
	_, err = sys.GenerateRootUpdate(res.Keys[1], st.Nonce)
	wantStatus(t, err, 400, "invalid key")
	if err := sys.GenerateRootCancel(); err != nil {
		t.Fatal(err)
	}
	_ = c
}

// TestRotateAndKeyStatus follows `vault operator rotate` and
// `vault operator key-status`.
func TestRotateAndKeyStatus(t *testing.T) {
	p, c, _ := initUnsealed(t, 1, 1)
	ks, err := c.Sys().KeyStatus()
	if err != nil || ks.Term != 1 || ks.InstallTime.IsZero() {
		t.Fatalf("key-status: %+v %v", ks, err)
	}
	if err := c.Sys().Rotate(); err != nil {
		t.Fatal(err)
	}
	ks, err = c.Sys().KeyStatus()
	if err != nil || ks.Term != 2 {
		t.Fatalf("key-status after rotate: %+v %v", ks, err)
	}
	// Data written under term 1 still decrypts.
	if _, err := c.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
	anon := newClient(t, p.addr)
	wantStatus(t, anon.Sys().Rotate(), 403, "permission denied")
	_, err = anon.Sys().KeyStatus()
	wantStatus(t, err, 403, "permission denied")
	// OpenBao's name for it (`bao operator rotate`): the same, sudo too.
	if _, err := c.Logical().Write("sys/rotate/keyring", nil); err != nil {
		t.Fatal(err)
	}
	if ks, err = c.Sys().KeyStatus(); err != nil || ks.Term != 3 {
		t.Fatalf("key-status after sys/rotate/keyring: %+v %v", ks, err)
	}
	rot := policyClient(t, c, "rot", `path "sys/rotate/keyring" { capabilities = ["update"] }`)
	_, err = rot.Logical().Write("sys/rotate/keyring", nil)
	wantStatus(t, err, 403, "permission denied")
}
