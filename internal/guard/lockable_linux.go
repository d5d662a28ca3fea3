package guard

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"strconv"
)

const capIPCLock = 14 // CAP_IPC_LOCK, linux/capability.h

// lockable returns how many more bytes the process may lock now: unlimited
// with CAP_IPC_LOCK, otherwise RLIMIT_MEMLOCK minus what is locked already.
func lockable() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return rlimitMemlock()
	}
	var capEff uint64
	var vmLck int64 = -1
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch string(k) {
		case "CapEff":
			capEff, _ = strconv.ParseUint(string(v), 16, 64)
		case "VmLck":
			kb, _, _ := bytes.Cut(v, []byte(" "))
			if n, err := strconv.ParseInt(string(kb), 10, 64); err == nil {
				vmLck = n * 1024
			}
		}
	}
	if capEff&(1<<capIPCLock) != 0 {
		return math.MaxInt64
	}
	limit := rlimitMemlock()
	if limit == math.MaxInt64 || vmLck < 0 {
		return limit
	}
	return max(0, limit-vmLck)
}
