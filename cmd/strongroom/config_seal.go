package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/seal"
)

// PKCS11Seal holds the arguments of seal "pkcs11", Vault's names plus
// dual_control. Every argument can also come from the environment
// (VAULT_HSM_LIB, VAULT_HSM_SLOT, VAULT_HSM_TOKEN_LABEL, VAULT_HSM_PIN,
// VAULT_HSM_PIN_FILE, VAULT_HSM_KEY_LABEL, VAULT_HSM_MECHANISM,
// VAULT_HSM_GENERATE_KEY), which takes precedence, as in Vault. The PIN can
// be read from a file (pin_file), so it need not sit in the configuration.
type PKCS11Seal struct {
	Lib         string `hcl:"lib,optional"`
	Slot        string `hcl:"slot,optional"`
	TokenLabel  string `hcl:"token_label,optional"`
	PIN         string `hcl:"pin,optional"`
	PINFile     string `hcl:"pin_file,optional"`
	KeyLabel    string `hcl:"key_label,optional"`
	Mechanism   string `hcl:"mechanism,optional"`
	GenerateKey bool   `hcl:"generate_key,optional"`
	// DualControl makes the root key depend on both the HSM and a quorum
	// of unseal keys.
	DualControl bool `hcl:"dual_control,optional"`
	// Disabled keeps the HSM available to migrate away from it, as Vault's
	// `disabled = "true"`.
	Disabled bool `hcl:"disabled,optional"`
}

// String never shows the PIN.
func (p *PKCS11Seal) String() string {
	return fmt.Sprintf("pkcs11{lib=%q slot=%q token_label=%q key_label=%q mechanism=%q}", p.Lib, p.Slot, p.TokenLabel, p.KeyLabel, p.Mechanism)
}

// GoString never shows the PIN.
func (p *PKCS11Seal) GoString() string { return p.String() }

func (s *Seal) decodePKCS11() hcl.Diagnostics {
	s.PKCS11 = &PKCS11Seal{}
	diags := gohcl.DecodeBody(s.Remain, nil, s.PKCS11)
	if diags.HasErrors() {
		return diags
	}
	if _, err := hsm.ParseMechanism(s.PKCS11.Mechanism); err != nil {
		diags = append(diags, attrDiag(s.Remain, "mechanism", "Invalid mechanism", "must be CKM_AES_GCM (0x1087) or CKM_AES_KEY_WRAP_PAD (0x210A)"))
	}
	if s.PKCS11.Slot != "" {
		if _, err := strconv.ParseUint(s.PKCS11.Slot, 0, 32); err != nil {
			diags = append(diags, attrDiag(s.Remain, "slot", "Invalid slot", "must be a slot number"))
		}
	}
	if s.PKCS11.PIN != "" && s.PKCS11.PINFile != "" {
		diags = append(diags, attrDiag(s.Remain, "pin_file", "Conflicting PIN", "cannot be set together with pin"))
	}
	return diags
}

// envOr returns the environment variable name if set, else v.
func envOr(name, v string) string {
	if e, ok := os.LookupEnv(name); ok {
		return e
	}
	return v
}

// hsmConfig resolves the stanza and the environment into an hsm.Config.
// Errors name the setting, never the PIN.
func (p *PKCS11Seal) hsmConfig() (hsm.Config, error) {
	cfg := hsm.Config{
		Lib:        envOr("VAULT_HSM_LIB", p.Lib),
		TokenLabel: envOr("VAULT_HSM_TOKEN_LABEL", p.TokenLabel),
		PIN:        envOr("VAULT_HSM_PIN", p.PIN),
		KeyLabel:   envOr("VAULT_HSM_KEY_LABEL", p.KeyLabel),
	}
	if slot := envOr("VAULT_HSM_SLOT", p.Slot); slot != "" {
		n, err := strconv.ParseUint(slot, 0, 32)
		if err != nil {
			return cfg, fmt.Errorf("seal pkcs11: slot %q is not a slot number", slot)
		}
		u := uint(n)
		cfg.Slot = &u
	}
	mech, err := hsm.ParseMechanism(envOr("VAULT_HSM_MECHANISM", p.Mechanism))
	if err != nil {
		return cfg, fmt.Errorf("seal pkcs11: %w", err)
	}
	cfg.Mechanism = mech
	cfg.GenerateKey = p.GenerateKey
	if g, ok := os.LookupEnv("VAULT_HSM_GENERATE_KEY"); ok {
		if cfg.GenerateKey, err = strconv.ParseBool(g); err != nil {
			return cfg, fmt.Errorf("seal pkcs11: VAULT_HSM_GENERATE_KEY must be true or false")
		}
	}
	if f := envOr("VAULT_HSM_PIN_FILE", p.PINFile); f != "" && cfg.PIN == "" {
		raw, err := os.ReadFile(f)
		if err != nil {
			return cfg, fmt.Errorf("seal pkcs11: reading pin_file: %w", err)
		}
		cfg.PIN = strings.TrimRight(string(raw), "\r\n")
	}
	switch {
	case cfg.Lib == "":
		return cfg, fmt.Errorf("seal pkcs11: lib is required (or VAULT_HSM_LIB)")
	case cfg.Slot == nil && cfg.TokenLabel == "":
		return cfg, fmt.Errorf("seal pkcs11: slot or token_label is required")
	case cfg.PIN == "":
		return cfg, fmt.Errorf("seal pkcs11: pin is required (pin, pin_file, VAULT_HSM_PIN or VAULT_HSM_PIN_FILE)")
	case cfg.KeyLabel == "":
		return cfg, fmt.Errorf("seal pkcs11: key_label is required (or VAULT_HSM_KEY_LABEL)")
	}
	return cfg, nil
}

// sealMode returns the configured seal mode and the pkcs11 stanza, if any
// (enabled or kept for migration).
func (c *Config) sealMode() (seal.Mode, *PKCS11Seal) {
	for _, s := range c.Seals {
		if s.PKCS11 != nil {
			switch {
			case s.PKCS11.Disabled:
				return seal.ModeShamir, s.PKCS11
			case s.PKCS11.DualControl:
				return seal.ModeDual, s.PKCS11
			default:
				return seal.ModeAuto, s.PKCS11
			}
		}
	}
	return seal.ModeShamir, nil
}
