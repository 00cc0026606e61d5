package hsm

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const canaryPIN = "pin-CANARY-7f3a9c"

func TestConfigNeverShowsPIN(t *testing.T) {
	slot := uint(7)
	cfg := Config{Lib: "/x/lib.so", Slot: &slot, TokenLabel: "tok", PIN: canaryPIN, KeyLabel: "mk"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "hsm", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "hsm", &cfg)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg),
		fmt.Sprintf("%v %+v %#v %s", &cfg, &cfg, &cfg, &cfg),
		fmt.Sprint(cfg), fmt.Sprintln(cfg),
		fmt.Sprintf("%v", []Config{cfg}), fmt.Sprintf("%+v", struct{ C Config }{cfg}),
		logged.String(),
	} {
		if strings.Contains(s, canaryPIN) {
			t.Fatalf("PIN in %q", s)
		}
		if !strings.Contains(s, "tok") {
			t.Fatalf("rendering lost the other fields: %q", s)
		}
	}
	if !strings.Contains(cfg.String(), "Slot:7") || !strings.Contains(cfg.String(), "NamedKeyCache:0") || !strings.Contains(cfg.String(), redacted) {
		t.Fatalf("String() = %q", cfg.String())
	}
}

func TestConfigValidate(t *testing.T) {
	slot := uint(0)
	good := Config{Lib: "/x.so", Slot: &slot, PIN: "1234", KeyLabel: "mk"}
	c, err := good.validate()
	if err != nil || c.Mechanism != MechanismAESGCM || c.NamedKeyCache != DefaultNamedKeyCache {
		t.Fatalf("validate(good) = %v, cache %d, %v; want AES-GCM and DefaultNamedKeyCache defaults", c.Mechanism, c.NamedKeyCache, err)
	}
	good.NamedKeyCache = 7
	if c, err := good.validate(); err != nil || c.NamedKeyCache != 7 {
		t.Fatalf("validate kept NamedKeyCache %d, %v; want 7", c.NamedKeyCache, err)
	}
	for name, mut := range map[string]func(*Config){
		"no lib":         func(c *Config) { c.Lib = "" },
		"no token":       func(c *Config) { c.Slot = nil },
		"no pin":         func(c *Config) { c.PIN = "" },
		"no key label":   func(c *Config) { c.KeyLabel = "" },
		"negative max":   func(c *Config) { c.MaxSessions = -1 },
		"negative cache": func(c *Config) { c.NamedKeyCache = -1 },
		"mechanism 9":    func(c *Config) { c.Mechanism = 9 },
	} {
		c := good
		c.PIN = canaryPIN
		mut(&c)
		_, err := c.validate()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: validate = %v, want ErrInvalid", name, err)
		}
		if err != nil && strings.Contains(err.Error(), canaryPIN) {
			t.Errorf("%s: PIN in %q", name, err)
		}
	}
}

func TestParseMechanism(t *testing.T) {
	for in, want := range map[string]Mechanism{
		"": MechanismDefault, "CKM_AES_GCM": MechanismAESGCM, "0x1087": MechanismAESGCM, "4231": MechanismAESGCM,
		"CKM_AES_KEY_WRAP_PAD": MechanismKWP, "0x210A": MechanismKWP, "aes-kwp": MechanismKWP,
	} {
		got, err := ParseMechanism(in)
		if err != nil || got != want {
			t.Errorf("ParseMechanism(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMechanism("CKM_AES_CBC"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseMechanism(CKM_AES_CBC) = %v, want ErrInvalid", err)
	}
}
