package transit

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/engine"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The golden backups are built here by hand, as Vault's keysutil lays them
// out (its JSON tags, its archive indexing), from fixed key material; their
// ciphertexts and signatures are computed with the standard library in
// Vault's format. They freeze the format: a Strongroom that can no longer
// restore them, or decrypt with them, breaks compatibility with Vault.

var goldenTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// vaultEntry is a keysutil.KeyEntry of a symmetric or HMAC key as JSON.
func vaultEntry(key, hmacKey []byte, version int) map[string]any {
	created := goldenTime.Add(time.Duration(version) * time.Hour)
	return map[string]any{
		"key": key, "hmac_key": hmacKey, "time": created,
		"ec_x": nil, "ec_y": nil, "ec_d": nil, "rsa_key": nil, "rsa_public_key": nil,
		"public_key": "", "convergent_version": 0, "creation_time": created.Unix(), "certificate_chain": nil,
	}
}

// emptyEntry is the zero keysutil.KeyEntry at index 0 of an archive.
func emptyEntry() map[string]any {
	return map[string]any{
		"key": nil, "hmac_key": nil, "time": time.Time{},
		"ec_x": nil, "ec_y": nil, "ec_d": nil, "rsa_key": nil, "rsa_public_key": nil,
		"public_key": "", "convergent_version": 0, "creation_time": 0, "certificate_chain": nil,
	}
}

// vaultPolicy is a keysutil.Policy as JSON, exportable and backed up.
func vaultPolicy(name string, typ, latest, minDec int, keys map[string]any, extra map[string]any) map[string]any {
	p := map[string]any{
		"name": name, "keys": keys, "derived": false, "kdf": 0, "convergent_encryption": false,
		"exportable": true, "min_decryption_version": minDec, "min_encryption_version": 0,
		"latest_version": latest, "archive_version": latest, "archive_min_version": 0,
		"min_available_version": 0, "deletion_allowed": false, "convergent_version": 0, "type": typ,
		"backup_info":            map[string]any{"time": goldenTime.Add(24 * time.Hour), "version": latest},
		"restore_info":           nil,
		"allow_plaintext_backup": true, "version_template": "", "storage_prefix": "",
		"auto_rotate_period": 0, "Imported": false, "AllowImportedKeyRotation": false,
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// buildBackup encodes a backup as keysutil's Backup does.
func buildBackup(t testing.TB, policy map[string]any, archived []any) string {
	t.Helper()
	kd := map[string]any{"policy": policy, "archived_keys": nil}
	if archived != nil {
		kd["archived_keys"] = map[string]any{"keys": archived}
	}
	raw, err := json.Marshal(kd)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(append(raw, '\n'))
}

// restore restores a hand-built backup as name.
func restore(t testing.TB, b *Backend, name string, policy map[string]any, archived []any) {
	t.Helper()
	resp, err := call(t, b, engine.OpUpdate, "restore/"+name, map[string]any{"backup": buildBackup(t, policy, archived)})
	if err != nil || resp != nil {
		t.Fatalf("restore %s: %v %v", name, resp, err)
	}
}

// golden is one golden file: a backup and the values it must reproduce.
type golden struct {
	Backup string            `json:"backup"`
	Values map[string]string `json:"values"`
}

// checkGolden compares g with testdata/name, or rewrites it with -update,
// and returns the file's content.
func checkGolden(t *testing.T, name string, g golden) golden {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		raw, _ := json.MarshalIndent(g, "", "  ")
		if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var stored golden
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Backup != g.Backup {
		t.Errorf("%s: the backup built by hand differs from the golden file", name)
	}
	for k, v := range g.Values {
		// Randomised values (signatures with a random nonce) are checked
		// by verification instead.
		if !strings.HasPrefix(k, "random:") && stored.Values[k] != v {
			t.Errorf("%s: value %s differs from the golden file", name, k)
		}
	}
	return stored
}

func gcmSeal(t testing.TB, key, nonce []byte, pt string, version int) string {
	blk, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := cipher.NewGCM(blk)
	return "vault:v" + itoa(version) + ":" + base64.StdEncoding.EncodeToString(g.Seal(append([]byte(nil), nonce...), nonce, []byte(pt), nil))
}

// TestGoldenBackupAES256 restores a Vault backup of an AES-256 key with
// three versions, min_decryption_version 2 and version 1 only in the
// archive, and decrypts ciphertexts of each version.
func TestGoldenBackupAES256(t *testing.T) {
	keys := [][]byte{seq(0, 32), seq(32, 32), seq(64, 32)}
	hk := [][]byte{seq(96, 32), seq(128, 32), seq(160, 32)}
	policy := vaultPolicy("orders", 0, 3, 2, map[string]any{
		"2": vaultEntry(keys[1], hk[1], 2), "3": vaultEntry(keys[2], hk[2], 3),
	}, nil)
	archived := []any{emptyEntry(), vaultEntry(keys[0], hk[0], 1), vaultEntry(keys[1], hk[1], 2), vaultEntry(keys[2], hk[2], 3)}
	g := golden{Backup: buildBackup(t, policy, archived), Values: map[string]string{}}
	for v := 1; v <= 3; v++ {
		g.Values["v"+itoa(v)] = gcmSeal(t, keys[v-1], seq(v, 12), "order 42", v)
	}
	g = checkGolden(t, "backup-aes256-archive.golden", g)

	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "restore", map[string]any{"backup": g.Backup})
	d := ok(t, b, engine.OpRead, "keys/orders", nil)
	if num(t, d, "latest_version") != 3 || num(t, d, "min_decryption_version") != 2 || d["restore_info"] == nil || d["backup_info"] == nil {
		t.Fatalf("restored %v", d)
	}
	for _, v := range []string{"v2", "v3"} {
		if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/orders", map[string]any{"ciphertext": g.Values[v]}), "plaintext")); string(got) != "order 42" {
			t.Fatalf("%s decrypted to %q", v, got)
		}
	}
	if got := fails(t, b, engine.OpUpdate, "decrypt/orders", map[string]any{"ciphertext": g.Values["v1"]}); got != msgTooOld {
		t.Fatalf("v1: %q", got)
	}
	// Version 1 comes back from the archive.
	ok(t, b, engine.OpUpdate, "keys/orders/config", map[string]any{"min_decryption_version": 1})
	if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/orders", map[string]any{"ciphertext": g.Values["v1"]}), "plaintext")); string(got) != "order 42" {
		t.Fatalf("v1 decrypted to %q", got)
	}
	// The HMAC key of each version is the backup's.
	d = ok(t, b, engine.OpRead, "export/hmac-key/orders/2", nil)
	if d["keys"].(map[string]any)["2"] != base64.StdEncoding.EncodeToString(hk[1]) {
		t.Fatalf("hmac key %v", d)
	}
	wantContains(t, fails(t, b, engine.OpUpdate, "restore", map[string]any{"backup": g.Backup}), `key "orders" already exists`)
	ok(t, b, engine.OpUpdate, "restore", map[string]any{"backup": g.Backup, "force": true})
	ok(t, b, engine.OpUpdate, "restore/copy", map[string]any{"backup": g.Backup})
	ok(t, b, engine.OpUpdate, "decrypt/copy", map[string]any{"ciphertext": g.Values["v3"]})
}

// TestGoldenBackupLegacy restores a policy from before versioned keys (a
// single "key", ciphertexts "vault:v0:"), which keysutil upgrades on load.
func TestGoldenBackupLegacy(t *testing.T) {
	policy := map[string]any{"name": "old", "key": seq(0, 32), "derived": false, "kdf": 0, "exportable": true, "allow_plaintext_backup": true, "type": 0}
	g := golden{Backup: buildBackup(t, policy, nil), Values: map[string]string{"v0": gcmSeal(t, seq(0, 32), seq(9, 12), "legacy", 0)}}
	g = checkGolden(t, "backup-legacy.golden", g)
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "restore", map[string]any{"backup": g.Backup})
	if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/old", map[string]any{"ciphertext": g.Values["v0"]}), "plaintext")); string(got) != "legacy" {
		t.Fatalf("decrypted %q", got)
	}
	d := ok(t, b, engine.OpRead, "keys/old", nil)
	if num(t, d, "latest_version") != 1 || num(t, d, "min_decryption_version") != 1 {
		t.Fatalf("upgraded %v", d)
	}
	ok(t, b, engine.OpUpdate, "hmac/old", map[string]any{"input": b64("x")}) // an HMAC key was added
}

// TestGoldenBackupHMACHashiCorp restores an HMAC key numbered as HashiCorp
// Vault numbers it (type 11, which is XChaCha20 in OpenBao).
func TestGoldenBackupHMACHashiCorp(t *testing.T) {
	e := vaultEntry(seq(0, 32), seq(0, 32), 1)
	policy := vaultPolicy("mac", 11, 1, 1, map[string]any{"1": e}, map[string]any{"key_size": 32, "public_key_imported": nil})
	g := golden{Backup: buildBackup(t, policy, []any{emptyEntry(), e}), Values: map[string]string{
		// HMAC-SHA256(0..31, "the quick brown fox"), computed with Python's hmac.
		"hmac": "vault:v1:1C1q+0X29f6dauai98Mx5QzxRUCZXaB6ZZ0C0Qd2JaI=",
	}}
	g = checkGolden(t, "backup-hmac-hashicorp.golden", g)
	b := newBackend(t)
	ok(t, b, engine.OpUpdate, "restore", map[string]any{"backup": g.Backup})
	if str(t, ok(t, b, engine.OpRead, "keys/mac", nil), "type") != "hmac" {
		t.Fatal("not restored as an HMAC key")
	}
	if got := str(t, ok(t, b, engine.OpUpdate, "hmac/mac", map[string]any{"input": b64("the quick brown fox")}), "hmac"); got != g.Values["hmac"] {
		t.Fatalf("hmac %s", got)
	}
	d := ok(t, b, engine.OpUpdate, "verify/mac", map[string]any{"input": b64("the quick brown fox"), "hmac": g.Values["hmac"]})
	if d["valid"] != true {
		t.Fatal("hmac does not verify")
	}
	// The same key under OpenBao's numbering (10) restores alike.
	policy["type"] = 10
	restore(t, b, "mac2", policy, nil)
	if got := str(t, ok(t, b, engine.OpUpdate, "hmac/mac2", map[string]any{"input": b64("the quick brown fox")}), "hmac"); got != g.Values["hmac"] {
		t.Fatalf("OpenBao-numbered hmac %s", got)
	}
}

// TestGoldenBackupAsymmetric restores Ed25519, ECDSA P-256 and RSA-2048
// keys and checks signatures and ciphertexts made outside.
func TestGoldenBackupAsymmetric(t *testing.T) {
	// Ed25519 from a fixed seed: signatures are deterministic.
	edPriv := ed25519.NewKeyFromSeed(seq(0, 32))
	edEntry := vaultEntry(edPriv, seq(100, 32), 1)
	edEntry["public_key"] = base64.StdEncoding.EncodeToString(edPriv.Public().(ed25519.PublicKey))
	edPolicy := vaultPolicy("ed", 2, 1, 1, map[string]any{"1": edEntry}, nil)

	// ECDSA P-256 from a fixed scalar.
	ecPriv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seq(1, 32))
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := ecPriv.PublicKey.Bytes()
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecPriv.PublicKey)
	ecEntry := vaultEntry(nil, seq(100, 32), 1)
	ecEntry["ec_d"] = new(big.Int).SetBytes(seq(1, 32))
	ecEntry["ec_x"] = new(big.Int).SetBytes(pt[1:33])
	ecEntry["ec_y"] = new(big.Int).SetBytes(pt[33:])
	ecEntry["public_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}))
	ecPolicy := vaultPolicy("ec", 1, 1, 1, map[string]any{"1": ecEntry}, nil)

	// RSA-2048 from testdata: keysutil stores *rsa.PrivateKey as encoding/json does.
	pemRaw, err := os.ReadFile("testdata/rsa2048.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemRaw)
	rsaPriv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv.Precompute()
	rsaEntry := vaultEntry(nil, seq(100, 32), 1)
	rsaEntry["rsa_key"] = rsaPriv
	rsaEntry["rsa_public_key"] = &rsaPriv.PublicKey
	rsaPolicy := vaultPolicy("rsa", 3, 1, 1, map[string]any{"1": rsaEntry}, nil)

	digest := sha256.Sum256([]byte("message"))
	rsaSig, _ := rsa.SignPKCS1v15(nil, rsaPriv, crypto.SHA256, digest[:])
	oaep, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &rsaPriv.PublicKey, []byte("secret"), nil)
	ecSig, _ := ecdsa.SignASN1(rand.Reader, ecPriv, digest[:])
	g := golden{
		Values: map[string]string{
			"ed":                "vault:v1:" + base64.StdEncoding.EncodeToString(ed25519.Sign(edPriv, []byte("message"))),
			"rsa-pkcs1v15":      "vault:v1:" + base64.StdEncoding.EncodeToString(rsaSig),
			"random:rsa-oaep":   "vault:v1:" + base64.StdEncoding.EncodeToString(oaep),
			"random:ecdsa-asn1": "vault:v1:" + base64.StdEncoding.EncodeToString(ecSig),
			"ed-backup":         buildBackup(t, edPolicy, nil),
			"ec-backup":         buildBackup(t, ecPolicy, nil),
			"rsa-backup":        buildBackup(t, rsaPolicy, nil),
		},
	}
	// The file holds the three backups in Values.
	g = checkGolden(t, "backup-asymmetric.golden", g)

	b := newBackend(t)
	for _, name := range []string{"ed", "ec", "rsa"} {
		ok(t, b, engine.OpUpdate, "restore", map[string]any{"backup": g.Values[name+"-backup"]})
	}
	if got := str(t, ok(t, b, engine.OpUpdate, "sign/ed", map[string]any{"input": b64("message")}), "signature"); got != g.Values["ed"] {
		t.Errorf("ed25519 signature %s, want %s", got, g.Values["ed"])
	}
	if got := str(t, ok(t, b, engine.OpUpdate, "sign/rsa", map[string]any{"input": b64("message"), "signature_algorithm": "pkcs1v15"}), "signature"); got != g.Values["rsa-pkcs1v15"] {
		t.Errorf("rsa signature %s", got)
	}
	if got := unb64(t, str(t, ok(t, b, engine.OpUpdate, "decrypt/rsa", map[string]any{"ciphertext": g.Values["random:rsa-oaep"]}), "plaintext")); string(got) != "secret" {
		t.Errorf("rsa decrypted %q", got)
	}
	if ok(t, b, engine.OpUpdate, "verify/ec", map[string]any{"input": b64("message"), "signature": g.Values["random:ecdsa-asn1"]})["valid"] != true {
		t.Error("ecdsa signature made outside does not verify")
	}
	// And the backend's ECDSA signatures verify outside.
	sig := str(t, ok(t, b, engine.OpUpdate, "sign/ec", map[string]any{"input": b64("message")}), "signature")
	if !ecdsa.VerifyASN1(&ecPriv.PublicKey, digest[:], unb64(t, strings.TrimPrefix(sig, "vault:v1:"))) {
		t.Error("backend ecdsa signature does not verify")
	}
	d := ok(t, b, engine.OpRead, "keys/ec", nil)
	if d["keys"].(map[string]any)["1"].(map[string]any)["public_key"] != ecEntry["public_key"] {
		t.Errorf("ecdsa public key %v", d["keys"])
	}
}

// TestBackupRoundTrip backs a key up here, checks that the backup has
// Vault's layout, and restores it into another backend.
func TestBackupRoundTrip(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ, func(t *testing.T) {
			b := newBackend(t)
			ok(t, b, engine.OpUpdate, "keys/k", map[string]any{"type": typ, "exportable": true})
			wantContains(t, fails(t, b, engine.OpRead, "backup/k", nil), "plaintext backup is disallowed on the policy")
			ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"allow_plaintext_backup": true})
			ok(t, b, engine.OpUpdate, "keys/k/rotate", nil)
			ok(t, b, engine.OpUpdate, "keys/k/rotate", nil)
			ok(t, b, engine.OpUpdate, "keys/k/config", map[string]any{"min_decryption_version": 2})
			var ct string
			switch parsed := parseKeyType(typ); {
			case parsed.encryptionSupported():
				ct = str(t, ok(t, b, engine.OpUpdate, "encrypt/k", map[string]any{"plaintext": b64("x"), "key_version": 2}), "ciphertext")
			case parsed.signingSupported():
				ct = str(t, ok(t, b, engine.OpUpdate, "sign/k", map[string]any{"input": b64("x"), "key_version": 2}), "signature")
			default:
				ct = str(t, ok(t, b, engine.OpUpdate, "hmac/k", map[string]any{"input": b64("x"), "key_version": 2}), "hmac")
			}
			backup := str(t, ok(t, b, engine.OpRead, "backup/k", nil), "backup")
			if ok(t, b, engine.OpRead, "keys/k", nil)["backup_info"] == nil {
				t.Error("backup_info not recorded")
			}

			// Vault's layout.
			var kd struct {
				Policy       map[string]json.RawMessage `json:"policy"`
				ArchivedKeys struct {
					Keys []map[string]any `json:"keys"`
				} `json:"archived_keys"`
			}
			dec := json.NewDecoder(bytes.NewReader(unb64(t, backup)))
			dec.UseNumber()
			if err := dec.Decode(&kd); err != nil {
				t.Fatal(err)
			}
			var polKeys map[string]any
			json.Unmarshal(kd.Policy["keys"], &polKeys)
			if len(polKeys) != 2 || polKeys["1"] != nil || len(kd.ArchivedKeys.Keys) != 4 || kd.ArchivedKeys.Keys[0]["time"] != "0001-01-01T00:00:00Z" {
				t.Fatalf("layout: policy keys %v, %d archived", polKeys, len(kd.ArchivedKeys.Keys))
			}
			for _, f := range []string{"Imported", "AllowImportedKeyRotation", "archive_version", "min_available_version", "type", "backup_info"} {
				if _, has := kd.Policy[f]; !has {
					t.Errorf("policy lacks %s", f)
				}
			}
			if string(kd.Policy["type"]) != itoa(typeToWire[parseKeyType(typ)]) {
				t.Errorf("type %s", kd.Policy["type"])
			}

			b2 := newBackend(t)
			ok(t, b2, engine.OpUpdate, "restore/k2", map[string]any{"backup": backup})
			switch parsed := parseKeyType(typ); {
			case parsed.encryptionSupported():
				if got := unb64(t, str(t, ok(t, b2, engine.OpUpdate, "decrypt/k2", map[string]any{"ciphertext": ct}), "plaintext")); string(got) != "x" {
					t.Fatalf("restored key decrypted %q", got)
				}
			case parsed.signingSupported():
				if ok(t, b2, engine.OpUpdate, "verify/k2", map[string]any{"input": b64("x"), "signature": ct})["valid"] != true {
					t.Fatal("restored key does not verify")
				}
			default:
				if ok(t, b2, engine.OpUpdate, "verify/k2", map[string]any{"input": b64("x"), "hmac": ct})["valid"] != true {
					t.Fatal("restored key does not verify the hmac")
				}
			}
			ok(t, b2, engine.OpUpdate, "keys/k2/config", map[string]any{"min_decryption_version": 1})
			if num(t, ok(t, b2, engine.OpRead, "keys/k2", nil), "latest_version") != 3 {
				t.Fatal("restored key lost versions")
			}
		})
	}
}

func TestRestoreRefusals(t *testing.T) {
	b := newBackend(t)
	wantContains(t, fails(t, b, engine.OpUpdate, "restore", nil), "'backup' must be supplied")
	wantContains(t, fails(t, b, engine.OpUpdate, "restore", map[string]any{"backup": "%%"}), "failed to decode backup")
	wantContains(t, fails(t, b, engine.OpUpdate, "restore", map[string]any{"backup": b64("{}")}), "no policy")
	e := vaultEntry(seq(0, 32), seq(0, 32), 1)
	for _, c := range []struct {
		policy map[string]any
		want   string
	}{
		{vaultPolicy("m", 10, 1, 1, map[string]any{"1": e}, map[string]any{"managed_key_name": "hsm"}), "unsupported type 10"},
		{vaultPolicy("x", 12, 1, 1, map[string]any{"1": e}, nil), "unsupported type 12"},
		{vaultPolicy("x", 0, 2, 1, map[string]any{"2": e}, nil), "missing key version 1"},
		{vaultPolicy("x", 0, 1, 1, map[string]any{"1": vaultEntry(seq(0, 7), nil, 1)}, nil), "invalid backup"},
		{vaultPolicy("bad/name", 0, 1, 1, map[string]any{"1": e}, nil), "invalid key name"},
	} {
		wantContains(t, fails(t, b, engine.OpUpdate, "restore", map[string]any{"backup": buildBackup(t, c.policy, nil)}), c.want)
	}
	wantContains(t, fails(t, b, engine.OpRead, "backup/none", nil), `key "none" not found`)
	ok(t, b, engine.OpUpdate, "keys/k", nil)
	wantContains(t, fails(t, b, engine.OpRead, "backup/k", nil), "exporting is disallowed on the policy")
}
