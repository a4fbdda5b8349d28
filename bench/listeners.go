package bench

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The ingest bench reports what each process on the path spent per event:
// the collector and the loader it starts, and the broker and ClickHouse
// server it was given. Those two it finds by the port they listen on,
// when they run on this machine (listenerPID); a server elsewhere is left
// out of the table, said so.

// listenerPID returns the process listening on addr's TCP port on this
// machine, or 0 when none is found (a remote server, or no permission to
// read its file descriptors).
func listenerPID(addr string) int {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return 0
	}
	inodes := map[string]bool{}
	want := fmt.Sprintf(":%04X", port)
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(bytes.NewReader(b))
		s.Scan() // the header
		for s.Scan() {
			f := strings.Fields(s.Text())
			// local_address is f[1], st is f[3] (0A = LISTEN), inode f[9].
			if len(f) > 9 && f[3] == "0A" && strings.HasSuffix(f[1], want) && isLocal(f[1]) {
				inodes[f[9]] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// isLocal reports whether a /proc/net/tcp address (hex IP:port) is one a
// loopback client reaches: a loopback or an any-address listener.
func isLocal(hexAddr string) bool {
	h, _, _ := strings.Cut(hexAddr, ":")
	b, err := hex.DecodeString(h)
	if err != nil {
		return false
	}
	for _, x := range b {
		if x != 0 {
			// Not the any-address: the first byte of an IPv4 loopback
			// address in /proc's little-endian words is the last one.
			return len(b) == 4 && b[3] == 127 || len(b) == 16 && bytes.Equal(b, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0})
		}
	}
	return true
}

// cpuOf is a process's CPU time so far (user + system), 0 when pid is 0.
func cpuOf(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	_, cpu := procStats(pid)
	return cpu
}

// cpuMeter measures the CPU a set of processes spend between start and
// stop.
type cpuMeter struct {
	pids  map[string]int
	start map[string]time.Duration
	Spent map[string]time.Duration
}

func newCPUMeter(pids map[string]int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: map[string]time.Duration{}, Spent: map[string]time.Duration{}}
	for name, pid := range pids {
		m.start[name] = cpuOf(pid)
	}
	return m
}

func (m *cpuMeter) stop() {
	for name, pid := range m.pids {
		if pid != 0 {
			m.Spent[name] = cpuOf(pid) - m.start[name]
		}
	}
}
