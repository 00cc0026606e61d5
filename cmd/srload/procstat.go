package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture Go supports.
const userHZ = 100

// processCPU returns the CPU time (user and system, all threads) that the
// process pid has used so far, from /proc/<pid>/stat (Linux). Its
// resolution is 1/userHZ s.
func processCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU time: %w", err)
	}
	return parseProcStatCPU(raw)
}

// parseProcStatCPU reads utime and stime, fields 14 and 15 of a
// /proc/<pid>/stat line. Field 2, the command name, is in parentheses and
// may hold spaces: the fields are counted from its closing parenthesis.
func parseProcStatCPU(raw []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("server CPU time: malformed /proc stat line")
	}
	f := bytes.Fields(raw[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("server CPU time: malformed /proc stat line")
	}
	var ticks int64
	for _, s := range f[11:13] { // fields 14 (utime) and 15 (stime)
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("server CPU time: malformed /proc stat line")
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
