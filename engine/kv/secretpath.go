package kv

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/strongroom/strongroom/engine"
)

// checkPath validates a secret path below the mount (and below data/,
// metadata/, ...) for every operation but LIST. It accepts the empty path;
// callers decide what the empty path means, as Vault's handlers do.
//
// Vault's HTTP layer refuses ".." segments ("path cannot contain parent
// references") and Go's ServeMux rewrites "." and empty segments before the
// plugin sees them; here they are refused (ErrInvalidPath, 400), as is a
// trailing slash, which would name a folder, not a secret. The errors match
// both ErrInvalidPath and engine.ErrBadRequest.
func checkPath(path string) error {
	if strings.HasSuffix(path, "/") {
		return pathError("%q: a secret path cannot end with a slash", path)
	}
	return checkSegments(path)
}

// checkFolder validates the folder of a LIST request and returns it in the
// form of the layout: "" for the root, else ending with "/". A trailing
// slash is optional, as in Vault (its HTTP layer adds one to every LIST).
func checkFolder(path string) (string, error) {
	folder := strings.TrimSuffix(path, "/")
	if folder == "" {
		if path != "" && path != "/" {
			return "", pathError("%q: empty segment", path)
		}
		return "", nil
	}
	if err := checkSegments(folder); err != nil {
		return "", err
	}
	return folder + "/", nil
}

// checkSegments refuses paths that are too long, not UTF-8, hold a NUL byte,
// or have "..", "." or empty segments. The empty path passes.
func checkSegments(path string) error {
	if path == "" {
		return nil
	}
	if len(path) > MaxPathBytes {
		return pathError("path is %d bytes long, at most %d", len(path), MaxPathBytes)
	}
	if !utf8.ValidString(path) {
		return pathError("path is not valid UTF-8")
	}
	if strings.IndexByte(path, 0) >= 0 {
		return pathError("path contains a NUL byte")
	}
	for seg := range strings.SplitSeq(path, "/") {
		switch seg {
		case "..":
			return engine.Errorf(engine.ErrBadRequest, "%w", invalidPath("path cannot contain parent references"))
		case "", ".":
			return pathError("%q: empty or \".\" segment", path)
		}
	}
	return nil
}

// pathError returns an engine.ErrBadRequest matching ErrInvalidPath whose
// message is "invalid path " and the formatted reason.
func pathError(format string, args ...any) error {
	return engine.Errorf(engine.ErrBadRequest, "%w", invalidPath("invalid path "+fmt.Sprintf(format, args...)))
}

// invalidPath is an error with its own message that matches ErrInvalidPath.
type invalidPath string

func (e invalidPath) Error() string        { return string(e) }
func (e invalidPath) Is(target error) bool { return target == ErrInvalidPath }
