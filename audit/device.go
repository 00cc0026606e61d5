package audit

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
)

// Device is one enabled audit device: a salt, Vault's formatting options
// and a destination. NewFileDevice makes one. A Device is safe for
// concurrent use; its lines are written whole, one at a time.
//
// A Device never prints its salt: String gives its name and destination.
type Device struct {
	name string
	dest string // for String: `file "/var/log/audit.log"`, `stdout`, `discard`
	f    formatter
	out  sink // nil for discard

	closed atomic.Bool
}

// sink is where a device's lines go.
type sink interface {
	// write writes line, which ends in a newline, in one piece, or returns
	// why not. Calls are serialized by the sink.
	write(line []byte) error
	// reload reopens the destination (log rotation).
	reload() error
	// close releases the destination; then write and reload fail with
	// ErrClosed.
	close() error
}

// Name returns the name the device was created with, under which a Broker
// holds it.
func (d *Device) Name() string { return d.name }

// String names the device and its destination, never its salt.
func (d *Device) String() string {
	return "audit device " + strconv.Quote(d.name) + " (" + d.dest + ")"
}

// GoString is String, so that %#v does not print the salt either.
func (d *Device) GoString() string { return d.String() }

// Hash returns "hmac-sha256:" and the hex HMAC-SHA256 of input under the
// device's salt: the form in which a log line of this device shows input
// when it is hashed. It implements Vault's sys/audit-hash, and works
// whatever log_raw and hmac_accessor say, and after Close.
func (d *Device) Hash(input string) string { return d.f.h.hash(input) }

// LogRequest writes the request line of req, authenticated by auth (nil for
// an unauthenticated request), with reqErr (nil if none) as its "error". It
// returns when the line is written or failed: the error of the write (an
// *os.PathError of the OS), ErrEncode if the data cannot be encoded, or
// ErrClosed. ctx is not used to abandon a write. A discard device writes
// nothing and returns nil, as in Vault.
func (d *Device) LogRequest(ctx context.Context, auth *Auth, req *Request, reqErr error) error {
	if req == nil {
		return fmt.Errorf("%w: %w", ErrAuditFailed, errNilRequest)
	}
	return d.log(func(buf *bytes.Buffer) error {
		return d.f.formatRequest(buf, auth, req, reqErr)
	})
}

// LogResponse writes the response line of req and resp (nil for none), with
// respErr (nil if none) as its "error", and returns as LogRequest does.
func (d *Device) LogResponse(ctx context.Context, auth *Auth, req *Request, resp *Response, respErr error) error {
	if req == nil {
		return fmt.Errorf("%w: %w", ErrAuditFailed, errNilRequest)
	}
	return d.log(func(buf *bytes.Buffer) error {
		return d.f.formatResponse(buf, auth, req, resp, respErr)
	})
}

func (d *Device) log(format func(*bytes.Buffer) error) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if d.out == nil {
		return nil
	}
	buf := getBuffer()
	defer putBuffer(buf)
	if err := format(buf); err != nil {
		return err
	}
	return d.out.write(buf.Bytes())
}

// Reload reopens the device's file, so that logging goes on in a new file
// after the old one was renamed away (log rotation, on SIGHUP). If the file
// cannot be opened, Reload returns why, and every later write tries to open
// it again. Reload of stdout and discard does nothing. After Close it
// returns ErrClosed.
func (d *Device) Reload() error {
	if d.closed.Load() {
		return ErrClosed
	}
	if d.out == nil {
		return nil
	}
	return d.out.reload()
}

// Close closes the device's file; later writes and reloads return
// ErrClosed. Close waits for a write under way. A second Close returns nil.
func (d *Device) Close() error {
	if d.closed.Swap(true) || d.out == nil {
		return nil
	}
	return d.out.close()
}

// bufPool holds the buffers lines are formatted in.
var bufPool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 2048)) }}

func getBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

// putBuffer returns buf to the pool, unless a large entry grew it.
func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > 64<<10 {
		return
	}
	buf.Reset()
	bufPool.Put(buf)
}
