package transit

// export/<type>/<name>[/<version>]: Vault's path_export.go. type is
// encryption-key, signing-key, hmac-key or public-key; version is a
// number, "v<number>" or "latest" (every version from
// min_decryption_version by default). Private material needs an exportable
// key; public keys do not. The query parameter format ("" by default, raw,
// der or pem) is OpenBao's. Formats by default: base64 for symmetric,
// HMAC and Ed25519 keys; PEM "RSA PRIVATE KEY" (PKCS #1) for RSA; PEM
// "EC PRIVATE KEY" (SEC 1) for ECDSA; PEM "PUBLIC KEY" (PKIX) for RSA and
// ECDSA public keys and base64 for Ed25519 ones.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/engine"
)

const (
	exportEncryptionKey = "encryption-key"
	exportSigningKey    = "signing-key"
	exportHMACKey       = "hmac-key"
	exportPublicKey     = "public-key"
)

type exportRequest struct {
	Format string `json:"format"`
}

func (b *Backend) pathExport(ctx context.Context, req *engine.Request, typ, name, version string) (*engine.Response, error) {
	var in exportRequest
	if err := decode(req, &in); err != nil {
		return nil, err
	}
	switch typ {
	case exportEncryptionKey, exportSigningKey, exportHMACKey, exportPublicKey:
	default:
		return nil, badRequest("invalid export type: %s", typ)
	}
	switch in.Format {
	case "", "raw", "der", "pem":
	default:
		return nil, badRequest("invalid format: %s", in.Format)
	}
	return b.withKey(ctx, name, nil, func(k *keyring) (*engine.Response, error) {
		if !k.meta.Exportable && typ != exportPublicKey {
			return nil, badRequest("private key material is not exportable")
		}
		if k.meta.SoftDeleted {
			return nil, badRequest(msgSoftDeleted)
		}
		switch typ {
		case exportEncryptionKey:
			if !k.typ.encryptionSupported() {
				return nil, badRequest("encryption not supported for the key")
			}
		case exportSigningKey:
			if !k.typ.signingSupported() {
				return nil, badRequest("signing not supported for the key")
			}
		}
		keys := map[string]string{}
		if version == "" {
			for _, v := range k.versions {
				s, err := k.exportKey(v, typ, in.Format)
				if err != nil {
					return nil, err
				}
				keys[strconv.Itoa(v.n)] = s
			}
		} else {
			n := k.latest()
			if version != "latest" {
				var err error
				if n, err = strconv.Atoi(strings.TrimPrefix(version, "v")); err != nil {
					return nil, badRequest("invalid key version")
				}
			}
			if n < k.meta.MinDecryptionVersion {
				return nil, badRequest("version for export is below minimum decryption version")
			}
			v := k.version(n)
			if v == nil {
				return nil, badRequest("version does not exist or cannot be found")
			}
			s, err := k.exportKey(v, typ, in.Format)
			if err != nil {
				return nil, err
			}
			keys[strconv.Itoa(n)] = s
		}
		return &engine.Response{Data: map[string]any{"name": k.name, "type": k.typ.String(), "keys": keys}}, nil
	})
}

// exportKey is Vault's getExportKey.
func (k *keyring) exportKey(v *keyVersion, typ, format string) (string, error) {
	switch typ {
	case exportHMACKey:
		if format == "der" || format == "pem" {
			return "", badRequest("unknown format for HMAC key; supported values are `` or `raw`")
		}
		return base64.StdEncoding.EncodeToString(k.hmacKeyOf(v)), nil
	case exportEncryptionKey:
		switch {
		case k.typ.symmetricAEAD():
			if format == "der" || format == "pem" {
				return "", badRequest("unknown format for HMAC key; supported values are `` or `raw`")
			}
			return base64.StdEncoding.EncodeToString(v.key()), nil
		case k.typ.isRSA():
			return exportRSAPrivate(v, format)
		}
	case exportSigningKey:
		switch {
		case k.typ.isECDSA():
			if format == "raw" {
				return "", badRequest("unknown key format for ec key; supported values are ``, `der`, or `pem`")
			}
			priv, ok := v.priv.(*ecdsa.PrivateKey)
			if !ok {
				return "", nil
			}
			if format == "" {
				der, err := x509.MarshalECPrivateKey(priv)
				if err != nil {
					return "", internalf("%v", err)
				}
				return strings.TrimSpace(pemBlock("EC PRIVATE KEY", der)), nil
			}
			return pkcs8(priv, format, true)
		case k.typ == keyED25519:
			if !v.hasPrivate() {
				return "", nil
			}
			if format == "" || format == "raw" {
				return base64.StdEncoding.EncodeToString(v.key()), nil
			}
			return pkcs8(ed25519.PrivateKey(v.key()), format, true)
		case k.typ.isRSA():
			return exportRSAPrivate(v, format)
		}
	case exportPublicKey:
		switch {
		case k.typ.isECDSA(), k.typ.isRSA():
			if format == "raw" {
				return "", badRequest("unknown key format; supported values are ``, `der`, or `pem`")
			}
			der, err := x509.MarshalPKIXPublicKey(v.pub)
			if err != nil {
				return "", internalf("%v", err)
			}
			if format == "der" {
				return base64.StdEncoding.EncodeToString(der), nil
			}
			s := pemBlock("PUBLIC KEY", der)
			if k.typ.isECDSA() {
				s = strings.TrimSpace(s)
			}
			return s, nil
		case k.typ == keyED25519:
			pub, _ := v.pub.(ed25519.PublicKey)
			if format == "" || format == "raw" {
				return base64.StdEncoding.EncodeToString(pub), nil
			}
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				return "", internalf("%v", err)
			}
			if format == "der" {
				return base64.StdEncoding.EncodeToString(der), nil
			}
			return strings.TrimSpace(pemBlock("PUBLIC KEY", der)), nil
		}
	}
	return "", badRequest("unknown key type %v for export type %v", k.typ, typ)
}

// exportRSAPrivate is Vault's encodeRSAPrivateKey.
func exportRSAPrivate(v *keyVersion, format string) (string, error) {
	if format == "raw" {
		return "", badRequest("unknown key format for rsa key; supported values are ``, `der`, or `pem`")
	}
	priv, ok := v.priv.(*rsa.PrivateKey)
	if !ok {
		return "", nil
	}
	if format == "" {
		return pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(priv)), nil
	}
	return pkcs8(priv, format, false)
}

// pkcs8 encodes a private key as PKCS #8, base64 DER or PEM (trimmed when
// trim is set, as Vault does for all but RSA).
func pkcs8(key any, format string, trim bool) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", internalf("%v", err)
	}
	defer clear(der)
	if format == "der" {
		return base64.StdEncoding.EncodeToString(der), nil
	}
	s := pemBlock("PRIVATE KEY", der)
	if trim {
		s = strings.TrimSpace(s)
	}
	return s, nil
}
