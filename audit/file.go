package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MinSaltSize is the least number of bytes of a device's salt.
const MinSaltSize = 32

// The special destinations of FileConfig.FilePath, as in Vault.
const (
	Stdout  = "stdout"  // write to the process's standard output
	Discard = "discard" // write nothing
)

// FileConfig configures a file audit device, as the options of Vault's file
// audit device do (see ParseOptions).
//
// Mind the zero value of HMACAccessor: false writes accessors raw. Vault
// hashes them unless hmac_accessor=false, and ParseOptions defaults to that.
type FileConfig struct {
	// Name is the device's name in the Broker and in its errors (Vault's
	// audit path, such as "file/"). Required.
	Name string
	// FilePath is the file to append to, or Stdout or Discard. Missing
	// directories are created. Required.
	FilePath string
	// Mode is the permission of the file, 0600 if zero. It is set on the
	// file at each open, also when the file already existed. Only the
	// permission bits 0777 are allowed, and execute bits are cleared, as
	// Vault does since CVE-2025-6000. Devices (/dev/null) are left alone.
	Mode os.FileMode
	// Salt is the HMAC key, at least MinSaltSize random bytes, made and kept
	// by the owner (the server stores it encrypted, per tenant). The device
	// keeps a copy and never writes it.
	Salt []byte
	// LogRaw writes every value as it is, hashing nothing (Vault's log_raw).
	LogRaw bool
	// HMACAccessor hashes token accessors (Vault's hmac_accessor).
	HMACAccessor bool
	// Prefix is written before each JSON line, on the same line (Vault's
	// prefix). It must not contain a line break.
	Prefix string
}

// String describes c without its salt.
func (c FileConfig) String() string {
	return fmt.Sprintf("FileConfig{Name:%q FilePath:%q Mode:%#o Salt:[%d bytes] LogRaw:%t HMACAccessor:%t Prefix:%q}",
		c.Name, c.FilePath, uint32(c.Mode), len(c.Salt), c.LogRaw, c.HMACAccessor, c.Prefix)
}

// GoString is String, so that %#v does not print the salt either.
func (c FileConfig) GoString() string { return c.String() }

// ParseOptions reads the options of Vault's file audit device, as given to
// sys/audit/:path, into a FileConfig without Name and Salt:
//
//   - file_path (or its old name path): required; "stdout" and "discard"
//     in any case are the special destinations.
//   - log_raw: a boolean, default false.
//   - hmac_accessor: a boolean, default true.
//   - mode: an octal string such as "0600", default "0600". "0000" keeps the
//     mode of the existing file, as in Vault, and fails if there is none.
//   - format: "json", the default and the only one.
//   - prefix: written before each line.
//
// Any other option, elide_list_responses included, is refused rather than
// ignored. Every refusal matches ErrInvalidConfig and names the option.
func ParseOptions(opts map[string]string) (FileConfig, error) {
	cfg := FileConfig{HMACAccessor: true}
	for k, v := range opts {
		var err error
		switch k {
		case "file_path", "path":
			if p, ok := opts["file_path"]; ok && k == "path" && p != v {
				return FileConfig{}, fmt.Errorf("%w: file_path and path differ", ErrInvalidConfig)
			}
			cfg.FilePath = normalizePath(v)
		case "log_raw":
			cfg.LogRaw, err = strconv.ParseBool(v)
		case "hmac_accessor":
			cfg.HMACAccessor, err = strconv.ParseBool(v)
		case "mode":
			// Parsed below, once file_path is known.
		case "format":
			switch v {
			case "json":
			case "jsonx":
				return FileConfig{}, fmt.Errorf("%w: format %q is not supported (Vault removed it); use json", ErrInvalidConfig, v)
			default:
				return FileConfig{}, fmt.Errorf("%w: unknown format %q", ErrInvalidConfig, v)
			}
		case "prefix":
			cfg.Prefix = v
		default:
			return FileConfig{}, fmt.Errorf("%w: unknown option %q", ErrInvalidConfig, k)
		}
		if err != nil {
			return FileConfig{}, fmt.Errorf("%w: option %s: %q is not a boolean", ErrInvalidConfig, k, v)
		}
	}
	if cfg.FilePath == "" {
		return FileConfig{}, fmt.Errorf("%w: file_path is required", ErrInvalidConfig)
	}
	if raw, ok := opts["mode"]; ok {
		m, err := strconv.ParseUint(raw, 8, 32)
		if err != nil || m > 0o777 {
			return FileConfig{}, fmt.Errorf("%w: mode %q is not an octal permission like 0600", ErrInvalidConfig, raw)
		}
		cfg.Mode = os.FileMode(m)
		if m == 0 && cfg.FilePath != Stdout && cfg.FilePath != Discard {
			fi, err := os.Stat(cfg.FilePath)
			if err != nil {
				return FileConfig{}, fmt.Errorf("%w: mode 0000 keeps the mode of the existing file: %w", ErrInvalidConfig, err)
			}
			cfg.Mode = fi.Mode().Perm()
		}
		cfg.Mode &^= 0o111
	}
	if err := cfg.check(); err != nil {
		return FileConfig{}, err
	}
	return cfg, nil
}

func normalizePath(p string) string {
	switch {
	case strings.EqualFold(p, Stdout):
		return Stdout
	case strings.EqualFold(p, Discard):
		return Discard
	}
	return p
}

// check validates what ParseOptions can: all but Name and Salt.
func (c FileConfig) check() error {
	if c.FilePath == "" {
		return fmt.Errorf("%w: file_path is required", ErrInvalidConfig)
	}
	if c.Mode&^0o777 != 0 {
		return fmt.Errorf("%w: mode %v has more than permission bits", ErrInvalidConfig, c.Mode)
	}
	if strings.ContainsAny(c.Prefix, "\r\n") {
		return fmt.Errorf("%w: prefix contains a line break", ErrInvalidConfig)
	}
	return nil
}

// NewFileDevice returns a device appending to cfg.FilePath, or writing to
// standard output, or discarding. A file is opened now, so that a path that
// cannot be written fails here rather than at the first request. Errors
// match ErrInvalidConfig for cfg itself; an error of the OS (such as
// fs.ErrPermission) stays reachable with errors.Is.
func NewFileDevice(cfg FileConfig) (*Device, error) {
	cfg.FilePath = normalizePath(cfg.FilePath)
	if cfg.Name == "" {
		return nil, fmt.Errorf("%w: name is required", ErrInvalidConfig)
	}
	if len(cfg.Salt) < MinSaltSize {
		return nil, fmt.Errorf("%w: salt has %d bytes, want at least %d", ErrInvalidConfig, len(cfg.Salt), MinSaltSize)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	mode := cfg.Mode
	if mode == 0 {
		mode = 0o600
	}
	mode &^= 0o111

	d := &Device{
		name: cfg.Name,
		f: formatter{
			h:            newHasher(cfg.Salt),
			raw:          cfg.LogRaw,
			hmacAccessor: cfg.HMACAccessor,
			prefix:       cfg.Prefix,
			now:          time.Now,
		},
	}
	switch cfg.FilePath {
	case Stdout:
		d.dest = Stdout
		d.out = stdoutSink{}
	case Discard:
		d.dest = Discard
	default:
		d.dest = "file " + strconv.Quote(cfg.FilePath)
		s := &fileSink{path: cfg.FilePath, mode: mode}
		if err := s.open(); err != nil {
			return nil, fmt.Errorf("audit: device %q cannot open its file: %w", cfg.Name, err)
		}
		d.out = s
	}
	return d, nil
}

// fileSink appends lines to a file.
type fileSink struct {
	path string
	mode os.FileMode

	mu     sync.Mutex
	f      *os.File // nil after a failed write or reload: the next write opens
	torn   bool     // the last write stopped inside a line
	closed bool
}

// open opens the file for appending, creating it and its directory, and
// sets its mode. The caller holds s.mu (or owns s alone).
func (s *fileSink) open() error {
	if err := os.MkdirAll(filepath.Dir(s.path), dirMode(s.mode)); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, s.mode)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	// Set the mode of a regular file, also one that existed (or that the
	// umask narrowed), as Vault does. /dev/null and the like are left alone.
	if fi.Mode().IsRegular() {
		if fi.Mode().Perm() != s.mode {
			if err := f.Chmod(s.mode); err != nil {
				f.Close()
				return err
			}
		}
		if fi.Size() == 0 {
			s.torn = false // a new file starts on a line boundary
		}
	}
	s.f = f
	return nil
}

// dirMode is the mode of a created directory: mode, with search permission
// for whoever may read.
func dirMode(mode os.FileMode) os.FileMode {
	return mode | (mode&0o444)>>2
}

// drop closes the file after a failed write; the next write reopens it.
func (s *fileSink) drop() {
	if s.f != nil {
		s.f.Close() // the write already failed; its error is the one to report
		s.f = nil
	}
}

func (s *fileSink) write(line []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	wrote, err := s.writeOnce(line)
	if err == nil || wrote || s.f == nil {
		// Retrying after a part was written would repeat that part; when
		// the file could not even be opened, there is nothing to retry.
		return err
	}
	// Nothing was written: the descriptor may be stale. Reopen once and
	// retry, as Vault does.
	s.drop()
	if oerr := s.open(); oerr != nil {
		return fmt.Errorf("%w (reopening: %w)", err, oerr)
	}
	if _, err = s.writeOnce(line); err != nil {
		s.drop()
	}
	return err
}

// writeOnce writes line in one Write, first ending a torn line if the last
// write left one, so that a line that failed half-way spoils only itself.
// It reports whether any byte was written.
func (s *fileSink) writeOnce(line []byte) (bool, error) {
	if s.f == nil {
		if err := s.open(); err != nil {
			return false, err
		}
	}
	p := line
	if s.torn {
		p = make([]byte, 0, 1+len(line))
		p = append(append(p, '\n'), line...)
	}
	n, err := s.f.Write(p)
	s.torn = tornAfter(s.torn, n, len(p))
	return n > 0, err
}

// tornAfter says whether the file ends inside a line after n bytes of a
// write of total bytes, the first of which was a '\n' if wasTorn.
func tornAfter(wasTorn bool, n, total int) bool {
	switch {
	case n >= total:
		return false
	case n == 0:
		return wasTorn
	case wasTorn:
		return n > 1 // the '\n' ended the old line; did the new one start?
	}
	return true
}

func (s *fileSink) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var cerr error
	if s.f != nil {
		cerr = s.f.Close()
		s.f = nil
	}
	if err := s.open(); err != nil {
		return err
	}
	return cerr
}

func (s *fileSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// stdoutMu serializes the lines of every stdout device.
var stdoutMu sync.Mutex

// stdoutSink writes lines to the process's standard output, which it never
// closes.
type stdoutSink struct{}

func (stdoutSink) write(line []byte) error {
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	_, err := os.Stdout.Write(line)
	return err
}

func (stdoutSink) reload() error { return nil }
func (stdoutSink) close() error  { return nil }
