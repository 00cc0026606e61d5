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
	if lim.Cur == 0 && os.Geteuid() != 0 {
		return fmt.Errorf("RLIMIT_MEMLOCK is 0, so key material cannot be locked in memory; raise it (ulimit -l, or LimitMEMLOCK=infinity in the systemd unit)")
	}
	return nil
}
