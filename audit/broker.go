package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Broker holds the enabled devices and writes every entry to each of them.
// It fails closed: when devices are enabled and none could write, the call
// returns an error matching ErrAuditFailed and the request must fail. With
// no device enabled, logging does nothing and succeeds, as in Vault.
//
// The zero Broker is empty and ready. A Broker is safe for concurrent use:
// concurrent calls log concurrently, each writing the devices one after the
// other in order of name, and each device writes whole lines one at a time.
// Add and Remove wait for the calls under way.
type Broker struct {
	// OnDeviceError, if set, is told of every device that failed while
	// another device logged the entry, so that the request goes on: the
	// caller logs or counts it. It is called after the broker's lock is
	// released. Set it before the Broker is first used.
	OnDeviceError func(err *DeviceError)

	mu      sync.RWMutex
	devices []*Device // sorted by name
}

// Add enables d under d.Name(). It returns an error matching
// ErrDeviceExists if a device of that name is enabled.
func (b *Broker) Add(d *Device) error {
	if d == nil {
		return fmt.Errorf("%w: nil device", ErrInvalidConfig)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	i, found := b.find(d.Name())
	if found {
		return fmt.Errorf("%w: %q", ErrDeviceExists, d.Name())
	}
	b.devices = slices.Insert(b.devices, i, d)
	return nil
}

// Remove disables the device named name and returns it, for the caller to
// Close. Once Remove returns, no call of the broker uses the device any
// more. It returns an error matching ErrNoDevice if none has that name.
func (b *Broker) Remove(name string) (*Device, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i, found := b.find(name)
	if !found {
		return nil, fmt.Errorf("%w: %q", ErrNoDevice, name)
	}
	d := b.devices[i]
	b.devices = slices.Delete(b.devices, i, i+1)
	return d, nil
}

// Device returns the device named name (for sys/audit-hash: Device(name).Hash),
// or an error matching ErrNoDevice.
func (b *Broker) Device(name string) (*Device, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	i, found := b.find(name)
	if !found {
		return nil, fmt.Errorf("%w: %q", ErrNoDevice, name)
	}
	return b.devices[i], nil
}

// Names returns the names of the enabled devices, sorted.
func (b *Broker) Names() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	names := make([]string, len(b.devices))
	for i, d := range b.devices {
		names[i] = d.Name()
	}
	return names
}

// find returns where name is or would be in b.devices. The caller holds b.mu.
func (b *Broker) find(name string) (int, bool) {
	return slices.BinarySearchFunc(b.devices, name, func(d *Device, name string) int {
		return strings.Compare(d.Name(), name)
	})
}

// LogRequest writes the request line of req to every enabled device (see
// Device.LogRequest). It returns nil if at least one device wrote it or no
// device is enabled. Otherwise it returns an error matching ErrAuditFailed
// that wraps a *DeviceError for each device; the request must then fail
// (Vault: "no audit backend succeeded in logging the request", 500). A nil
// req is an error matching ErrAuditFailed.
func (b *Broker) LogRequest(ctx context.Context, auth *Auth, req *Request, reqErr error) error {
	if req == nil {
		return fmt.Errorf("%w: %w", ErrAuditFailed, errNilRequest)
	}
	return b.fanOut("request", func(d *Device) error {
		return d.LogRequest(ctx, auth, req, reqErr)
	})
}

// LogResponse writes the response line of req and resp to every enabled
// device (see Device.LogResponse), and fails closed as LogRequest does.
func (b *Broker) LogResponse(ctx context.Context, auth *Auth, req *Request, resp *Response, respErr error) error {
	if req == nil {
		return fmt.Errorf("%w: %w", ErrAuditFailed, errNilRequest)
	}
	return b.fanOut("response", func(d *Device) error {
		return d.LogResponse(ctx, auth, req, resp, respErr)
	})
}

func (b *Broker) fanOut(what string, log func(*Device) error) error {
	var failed deviceErrors
	b.mu.RLock()
	n := len(b.devices)
	for _, d := range b.devices {
		if err := log(d); err != nil {
			failed = append(failed, &DeviceError{Device: d.Name(), Err: err})
		}
	}
	b.mu.RUnlock()

	if len(failed) == 0 {
		return nil
	}
	if len(failed) == n {
		return fmt.Errorf("%w the %s: %w", ErrAuditFailed, what, failed)
	}
	if b.OnDeviceError != nil {
		for _, e := range failed {
			b.OnDeviceError(e)
		}
	}
	return nil
}

// Reload reopens the file of every enabled device (log rotation, on
// SIGHUP). It returns nil, or an error wrapping a *DeviceError for each
// device that could not reopen; those devices try again at each write.
func (b *Broker) Reload() error {
	var failed deviceErrors
	b.mu.RLock()
	for _, d := range b.devices {
		if err := d.Reload(); err != nil {
			failed = append(failed, &DeviceError{Device: d.Name(), Err: err})
		}
	}
	b.mu.RUnlock()
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("audit: reload: %w", failed)
}
