package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseProcStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis, as comm may hold.
	line := "4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 31 0 0 20 0 12 0 100 0 0\n"
	d, err := parseProcStatCPU([]byte(line))
	if err != nil || d != 2810*time.Millisecond {
		t.Fatalf("got %v, %v; want 2.81s (281 ticks)", d, err)
	}
	for _, bad := range []string{"", "4242 (x S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 -5 6 7"} {
		if _, err := parseProcStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestProcessCPUOfThisProcess reads this process's own CPU time: it grows
// with work. The work goes on until 50ms of CPU time are counted (on a busy
// machine 100ms of wall time may hold less), for at most 10s.
func TestProcessCPUOfThisProcess(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	x := 0
	for deadline := time.Now().Add(10 * time.Second); ; {
		for range 1_000_000 {
			x++
		}
		after, err := processCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after-before >= 50*time.Millisecond {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU %v then %v after 10s of work (%d)", before, after, x)
		}
	}
}

// TestServerPID measures the fake server, which runs in this process, with
// -server-pid: the report carries its CPU time, in all and per request;
// without the flag it carries neither.
func TestServerPID(t *testing.T) {
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	_, srv := newFakeVault(t)
	args := []string{"-addr", srv.URL, "-token", "t", "-workload", "health", "-c", "2", "-d", "300ms", "-warmup", "50ms", "-baseline=false"}
	code, rep, errOut := runJSON(t, append(args, "-server-pid", fmt.Sprint(os.Getpid()))...)
	if code != 0 || rep == nil {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if rep.ServerCPUSeconds == nil || *rep.ServerCPUSeconds <= 0 || rep.ServerCPUPerRequestUS == nil ||
		*rep.ServerCPUPerRequestUS != *rep.ServerCPUSeconds*1e6/float64(rep.Requests) {
		t.Fatalf("server CPU %v s, %v us/request for %d requests", rep.ServerCPUSeconds, rep.ServerCPUPerRequestUS, rep.Requests)
	}
	code, out, _ := runTool(t, append(args, "-server-pid", fmt.Sprint(os.Getpid()))...)
	if code != 0 || !strings.Contains(out, "us/request") {
		t.Fatalf("text report: %q", out)
	}
	if code, rep, _ := runJSON(t, args...); code != 0 || rep.ServerCPUSeconds != nil || rep.ServerCPUPerRequestUS != nil {
		t.Fatalf("without -server-pid the report has server CPU %v", rep.ServerCPUSeconds)
	}
	if code, _, errOut := runTool(t, append(args, "-server-pid", "999999999")...); code != 1 || !strings.Contains(errOut, "server CPU time") {
		t.Fatalf("a missing process: exit %d, %q", code, errOut)
	}
}
