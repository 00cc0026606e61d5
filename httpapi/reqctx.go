package httpapi

import (
	"context"
	"sync"
	"time"
)

// requestContext is the context of one request: its parent's values and
// cancellation (the client going away) and the max_request_duration
// deadline, as context.WithTimeout would give. The deadline's timer is
// made only when something waits: most requests (a transit encrypt, a KV
// read on bolt) only ask Err, which reads the clock, and never call Done,
// so they pay for no timer and no registration in the parent. Done,
// AfterFunc (what context.WithCancel and context.AfterFunc on this context
// use) and every later call then go through a real
// context.WithDeadline.
type requestContext struct {
	context.Context // the parent
	deadline        time.Time

	mu       sync.Mutex
	timed    context.Context // context.WithDeadline(parent, deadline), once asked for
	cancel   context.CancelFunc
	released bool
}

// newRequestContext returns the context of a request that may last d, and
// the function that releases it when the request is over. Its clock is the
// wall clock, the one context.WithDeadline's timer follows.
func newRequestContext(parent context.Context, d time.Duration) (*requestContext, func()) {
	c := &requestContext{Context: parent, deadline: time.Now().Add(d)}
	return c, c.release
}

// Deadline is the earlier of the parent's deadline and the request's.
func (c *requestContext) Deadline() (time.Time, bool) {
	if d, ok := c.Context.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done makes the deadline's timer, once, and returns its channel.
func (c *requestContext) Done() <-chan struct{} { return c.timedContext().Done() }

// Err is context.Canceled once the parent is cancelled, and
// context.DeadlineExceeded from the deadline on.
func (c *requestContext) Err() error {
	c.mu.Lock()
	timed, released := c.timed, c.released
	c.mu.Unlock()
	switch {
	case timed != nil:
		return timed.Err()
	case released:
		return context.Canceled
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc runs f once the context is done (context.AfterFunc's contract;
// context.WithCancel on this context uses it instead of a goroutine).
func (c *requestContext) AfterFunc(f func()) (stop func() bool) {
	return context.AfterFunc(c.timedContext(), f)
}

func (c *requestContext) timedContext() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timed == nil {
		c.timed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		if c.released {
			c.cancel()
		}
	}
	return c.timed
}

// release ends the context as a context.WithTimeout's cancel does: Err
// is context.Canceled from then on, and the timer, if one was made, stops.
func (c *requestContext) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = true
	if c.cancel != nil {
		c.cancel()
	}
}
