package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// checkMemlock makes sure memguard can lock key pages in memory. It raises
// the soft RLIMIT_MEMLOCK to the hard limit, and refuses to start when the
// limit is 0 for a process without CAP_IPC_LOCK: memguard would hang.
func checkMemlock() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return nil // not knowable here; memguard reports its own errors
	}
	if lim.Cur < lim.Max {
		raised := unix.Rlimit{Cur: lim.Max, Max: lim.Max}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &raised) == nil {
			lim = raised
		}
	}
	if lim.Cur == 0 && !hasCapIPCLock() {
		return fmt.Errorf("RLIMIT_MEMLOCK is 0, so key material cannot be locked in memory; raise it (ulimit -l, or LimitMEMLOCK=infinity in the systemd unit)")
	}
	return nil
}

// hasCapIPCLock reports whether the process has CAP_IPC_LOCK in its
// effective set, which lets it lock memory whatever RLIMIT_MEMLOCK says.
// If the capabilities cannot be read, it assumes root has it and others
// do not.
func hasCapIPCLock() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3 takes two
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.Geteuid() == 0
	}
	return data[unix.CAP_IPC_LOCK/32].Effective&(1<<(unix.CAP_IPC_LOCK%32)) != 0
}
