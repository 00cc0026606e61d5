package softhsm_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/softhsm"
	"github.com/strongroom/strongroom/softhsm/softhsmtest"
)

func TestCreate(t *testing.T) {
	softhsmtest.Require(t)
	t.Setenv(softhsm.EnvConf, "/nonexistent/untouched.conf")
	dir := t.TempDir()
	tok, err := softhsm.Create(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv(softhsm.EnvConf); got != "/nonexistent/untouched.conf" {
		t.Fatalf("Create changed the process environment: SOFTHSM2_CONF=%q", got)
	}
	if tok.Dir != dir || tok.ConfPath != filepath.Join(dir, "softhsm2.conf") || tok.Label != "first" {
		t.Fatalf("token: %v", tok)
	}
	if len(tok.PIN) < 16 || len(tok.SOPIN) < 16 || tok.PIN == tok.SOPIN {
		t.Fatalf("weak or equal PINs (%d, %d bytes)", len(tok.PIN), len(tok.SOPIN))
	}
	conf, err := os.ReadFile(tok.ConfPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"directories.tokendir = " + filepath.Join(dir, "tokens") + "\n",
		"objectstore.backend = file\n",
		"log.level = ERROR\n",
	} {
		if !bytes.Contains(conf, []byte(line)) {
			t.Errorf("config lacks %q:\n%s", line, conf)
		}
	}
	if got := tok.Env(); len(got) != 1 || got[0] != "SOFTHSM2_CONF="+tok.ConfPath {
		t.Fatalf("Env() = %q", got)
	}

	// A second token under the same configuration, in another slot.
	tok2, err := softhsm.Create(dir, "second")
	if err != nil {
		t.Fatal(err)
	}
	if tok2.Slot == tok.Slot || tok2.ConfPath != tok.ConfPath {
		t.Fatalf("second token: slot %d (first %d), conf %s", tok2.Slot, tok.Slot, tok2.ConfPath)
	}
	if _, err := softhsm.Create(dir, "first"); err == nil {
		t.Fatal("Create accepted a label already in use")
	}

	// softhsm2-util, pointed at the config through Env, sees both tokens in
	// the slots Create reported.
	cmd := exec.Command("softhsm2-util", "--show-slots")
	cmd.Env = append(os.Environ(), tok.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{fmt.Sprintf("Slot %d\n", tok.Slot), fmt.Sprintf("Slot %d\n", tok2.Slot), "first", "second"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--show-slots lacks %q", want)
		}
	}
}

func TestCreateRejectsBadLabel(t *testing.T) {
	softhsmtest.Require(t)
	for _, label := range []string{"", " padded", "line\nbreak", strings.Repeat("x", 33)} {
		if _, err := softhsm.Create(t.TempDir(), label); err == nil {
			t.Errorf("Create accepted label %q", label)
		}
	}
}

func TestTokenNeverShowsPINs(t *testing.T) {
	tok := &softhsm.Token{Dir: "/d", ConfPath: "/d/softhsm2.conf", Label: "l", PIN: "user-CANARY-1", SOPIN: "so-CANARY-2"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("token", "tok", tok)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok), logged.String()} {
		if strings.Contains(s, "CANARY") {
			t.Fatalf("PIN in %q", s)
		}
	}
}

func TestHelperSetsConf(t *testing.T) {
	tok := softhsmtest.New(t)
	if got := os.Getenv(softhsm.EnvConf); got != tok.ConfPath {
		t.Fatalf("SOFTHSM2_CONF = %q, want %q", got, tok.ConfPath)
	}
	if lib, ok := softhsm.Available(); !ok || lib != tok.Lib {
		t.Fatalf("Available() = %q, %v", lib, ok)
	}
}
