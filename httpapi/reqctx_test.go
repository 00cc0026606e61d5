package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// TestRequestContextDeadlineWithoutDone: a request that never waits sees
// the deadline through Err alone.
func TestRequestContextDeadlineWithoutDone(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	ctx, release := newRequestContext(parent, 30*time.Millisecond)
	defer release()
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err at start: %v", err)
	}
	if ctx.Value(ctxKey{}) != "v" {
		t.Fatal("the parent's values are lost")
	}
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 30*time.Millisecond || time.Until(d) < 0 {
		t.Fatalf("Deadline = %v, %v", d, ok)
	}
	time.Sleep(40 * time.Millisecond)
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline: %v", err)
	}
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done is open after the deadline")
	}
}

// TestRequestContextDoneFiresAtDeadline: a waiter is woken at the deadline.
func TestRequestContextDoneFiresAtDeadline(t *testing.T) {
	ctx, release := newRequestContext(context.Background(), 20*time.Millisecond)
	defer release()
	start := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done did not fire")
	}
	if time.Since(start) < 15*time.Millisecond {
		t.Fatalf("Done fired after %v", time.Since(start))
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v", ctx.Err())
	}
}

// TestRequestContextParentCancel: the client going away cancels the request,
// with or without a waiter, and reaches contexts derived from it.
func TestRequestContextParentCancel(t *testing.T) {
	for _, wait := range []bool{false, true} {
		parent, cancel := context.WithCancel(context.Background())
		ctx, release := newRequestContext(parent, time.Minute)
		child, childCancel := context.WithCancel(ctx)
		after := make(chan struct{})
		context.AfterFunc(ctx, func() { close(after) })
		if wait {
			_ = ctx.Done()
		}
		cancel()
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("wait=%v: Err = %v", wait, ctx.Err())
		}
		for name, ch := range map[string]<-chan struct{}{"Done": ctx.Done(), "child": child.Done(), "AfterFunc": after} {
			select {
			case <-ch:
			case <-time.After(2 * time.Second):
				t.Fatalf("wait=%v: %s not closed after the parent's cancel", wait, name)
			}
		}
		childCancel()
		release()
	}
}

// TestRequestContextRelease: after the request, the context is cancelled,
// as a context.WithTimeout's is after its cancel, and so is what was
// derived from it.
func TestRequestContextRelease(t *testing.T) {
	ctx, release := newRequestContext(context.Background(), time.Minute)
	child, childCancel := context.WithCancel(ctx)
	defer childCancel()
	release()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("Err after release = %v", ctx.Err())
	}
	select {
	case <-child.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("a derived context outlives the request")
	}
	ctx2, release2 := newRequestContext(context.Background(), time.Minute)
	release2()
	select {
	case <-ctx2.Done(): // made after release: already closed
	case <-time.After(2 * time.Second):
		t.Fatal("Done asked after release is open")
	}
}

// TestRequestContextParentDeadline: an earlier deadline of the parent wins.
func TestRequestContextParentDeadline(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ctx, release := newRequestContext(parent, time.Hour)
	defer release()
	pd, _ := parent.Deadline()
	if d, _ := ctx.Deadline(); !d.Equal(pd) {
		t.Fatalf("Deadline = %v, want the parent's %v", d, pd)
	}
}
