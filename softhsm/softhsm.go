// Package softhsm creates throwaway SoftHSM2 tokens, for tests and for
// `strongroom server -dev`. It uses the standard library only: it writes a
// SoftHSM2 configuration file and runs softhsm2-util.
//
// # One configuration per process
//
// SoftHSM2 reads the file named by SOFTHSM2_CONF when the module is
// initialized (C_Initialize), once for the whole process; the tokens of
// every other configuration are invisible until the module is finalized and
// initialized again. So:
//
//   - a process uses the tokens of one configuration at a time. Create may be
//     called several times with the same dir to put several tokens under
//     one configuration;
//   - the process sets SOFTHSM2_CONF to Token.ConfPath before it opens the
//     module: os.Setenv in main (dev mode), t.Setenv in tests (the helper
//     softhsmtest.New does it), or Token.Env for a child process;
//   - tests that use different configurations one after the other must
//     close every hsm.HSM of the previous one first: the hsm package
//     finalizes the module when its last HSM closes, and the next Open
//     initializes it again and reads SOFTHSM2_CONF anew. Such tests cannot
//     run in parallel (t.Setenv refuses to).
//
// Create itself sets SOFTHSM2_CONF only in the environment of the
// softhsm2-util processes it runs.
package softhsm

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrNotInstalled means SoftHSM2 (its module or softhsm2-util) was not
// found.
var ErrNotInstalled = errors.New("softhsm: SoftHSM2 is not installed")

// EnvConf is the environment variable SoftHSM2 reads its configuration
// path from.
const EnvConf = "SOFTHSM2_CONF"

// libPaths are the places distributions install the SoftHSM2 module.
var libPaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/lib/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// Token is an initialized SoftHSM2 token in a directory of its own.
// Its String, GoString and LogValue methods do not show the PINs.
type Token struct {
	Dir      string // directory holding ConfPath and the token store (Dir/tokens)
	ConfPath string // SoftHSM2 configuration file; the value for SOFTHSM2_CONF
	Lib      string // path of libsofthsm2.so
	Label    string // token label
	PIN      string // user PIN
	SOPIN    string // security officer PIN
	Slot     uint   // slot id SoftHSM2 assigned to the token
}

// Available returns the path of the SoftHSM2 module and reports whether
// both the module and softhsm2-util are installed.
func Available() (lib string, ok bool) {
	lib = findLib()
	if lib == "" {
		return "", false
	}
	if _, err := findUtil(); err != nil {
		return lib, false
	}
	return lib, true
}

func findLib() string {
	for _, p := range libPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

func findUtil() (string, error) {
	if p, err := exec.LookPath("softhsm2-util"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/softhsm2-util", "/usr/local/bin/softhsm2-util", "/opt/homebrew/bin/softhsm2-util"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: softhsm2-util not found", ErrNotInstalled)
}

// Create initializes a new token labelled label under dir, with random user
// and SO PINs. It writes dir/softhsm2.conf (token store dir/tokens, file
// backend, log level ERROR) and runs softhsm2-util --init-token --free with
// SOFTHSM2_CONF set in that child's environment only. dir is created if
// needed. Calling Create again with the same dir adds another token to the
// same configuration; the label must not be taken yet in it.
//
// The PINs are passed to softhsm2-util on its command line (it reads them
// from a terminal otherwise), where other local users may glimpse them
// while it runs: fine for throwaway tokens, not for real ones.
func Create(dir, label string) (*Token, error) {
	lib := findLib()
	if lib == "" {
		return nil, fmt.Errorf("%w: libsofthsm2.so not found", ErrNotInstalled)
	}
	util, err := findUtil()
	if err != nil {
		return nil, err
	}
	if label == "" || len(label) > 32 || strings.ContainsAny(label, "\n\r") || strings.TrimSpace(label) != label {
		return nil, fmt.Errorf("softhsm: token label %q must have 1 to 32 characters, on one line, not starting or ending with a space", label)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("softhsm: %w", err)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return nil, fmt.Errorf("softhsm: %w", err)
	}
	t := &Token{
		Dir:      dir,
		ConfPath: filepath.Join(dir, "softhsm2.conf"),
		Lib:      lib,
		Label:    label,
	}
	conf := "# Written by strongroom/softhsm for a throwaway token.\n" +
		"directories.tokendir = " + tokens + "\n" +
		"objectstore.backend = file\n" +
		"log.level = ERROR\n" +
		"slots.removable = false\n"
	if err := os.WriteFile(t.ConfPath, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("softhsm: %w", err)
	}
	if _, err := t.findSlot(util); err == nil {
		return nil, fmt.Errorf("softhsm: a token labelled %q already exists in %s", label, dir)
	}
	if t.PIN, err = randomPIN(); err != nil {
		return nil, err
	}
	if t.SOPIN, err = randomPIN(); err != nil {
		return nil, err
	}
	if _, err := t.run(util, "--init-token", "--free", "--label", label, "--pin", t.PIN, "--so-pin", t.SOPIN); err != nil {
		return nil, err
	}
	if t.Slot, err = t.findSlot(util); err != nil {
		return nil, err
	}
	return t, nil
}

// Env returns the environment entry that points a child process at t's
// configuration, to append to exec.Cmd.Env.
func (t *Token) Env() []string { return []string{EnvConf + "=" + t.ConfPath} }

// String renders t without its PINs.
func (t *Token) String() string {
	if t == nil {
		return "softhsm.Token(nil)"
	}
	return fmt.Sprintf("softhsm.Token{Dir:%q ConfPath:%q Lib:%q Label:%q PIN:<redacted> SOPIN:<redacted> Slot:%d}",
		t.Dir, t.ConfPath, t.Lib, t.Label, t.Slot)
}

// GoString renders t for %#v, without its PINs.
func (t *Token) GoString() string { return t.String() }

// LogValue renders t for log/slog, without its PINs.
func (t *Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("dir", t.Dir),
		slog.String("conf", t.ConfPath),
		slog.String("label", t.Label),
		slog.Uint64("slot", uint64(t.Slot)),
	)
}

// run runs softhsm2-util with t's configuration and returns its output. An
// error quotes the output with the PINs blanked out.
func (t *Token) run(util string, args ...string) ([]byte, error) {
	cmd := exec.Command(util, args...)
	cmd.Env = append(withoutConf(os.Environ()), t.Env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(bytes.TrimSpace(out))
		for _, pin := range []string{t.PIN, t.SOPIN} {
			if pin != "" {
				msg = strings.ReplaceAll(msg, pin, "<redacted>")
			}
		}
		return out, fmt.Errorf("softhsm: softhsm2-util %s: %w: %s", args[0], err, msg)
	}
	return out, nil
}

// findSlot returns the slot of the initialized token labelled t.Label, from
// softhsm2-util --show-slots.
func (t *Token) findSlot(util string) (uint, error) {
	out, err := t.run(util, "--show-slots")
	if err != nil {
		return 0, err
	}
	slots := parseSlots(out)
	var found []uint
	for _, s := range slots {
		if s.initialized && s.label == t.Label {
			found = append(found, s.id)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return 0, fmt.Errorf("softhsm: no initialized token labelled %q in %s", t.Label, t.Dir)
	default:
		return 0, fmt.Errorf("softhsm: %d tokens labelled %q in %s", len(found), t.Label, t.Dir)
	}
}

type slotInfo struct {
	id          uint
	label       string
	initialized bool
}

// parseSlots reads the output of softhsm2-util --show-slots: a "Slot N"
// line at the start of each block, then indented "Label:" and
// "Initialized:" lines for its token.
func parseSlots(out []byte) []slotInfo {
	var (
		slots []slotInfo
		cur   *slotInfo
	)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "Slot "); ok {
			id, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				cur = nil
				continue
			}
			slots = append(slots, slotInfo{id: uint(id)})
			cur = &slots[len(slots)-1]
			continue
		}
		if cur == nil {
			continue
		}
		key, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch key {
		case "Label":
			cur.label = value
		case "Initialized":
			cur.initialized = value == "yes"
		}
	}
	return slots
}

// withoutConf returns env without any SOFTHSM2_CONF entry.
func withoutConf(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, EnvConf+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// randomPIN returns 32 random hexadecimal characters.
func randomPIN() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("softhsm: random PIN: %w", err)
	}
	return hex.EncodeToString(b), nil
}
