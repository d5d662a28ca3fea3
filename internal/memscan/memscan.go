//go:build linux

// Package memscan searches the process's own memory for a marker, for tests
// that prove no copy of a secret value is left where strongroom could have
// wiped it. Tests only.
//
// The caller never holds the marker in clear: it gives the marker masked
// (every byte XORed with a mask byte) and the scan unmasks each candidate
// byte in a register, so the test's own copy cannot be found. The scan reads
// every readable mapping listed in /proc/self/maps (the Go heap, goroutine
// stacks, the binary's data, memory mapped by memguard or cgo) through
// /proc/self/mem into a buffer that it maps outside the Go heap, skips, and
// wipes after each chunk.
//
// What it cannot see: copies the kernel keeps (the page cache of a file, a
// socket's buffers), and other processes. What it cannot tell apart: a copy
// made by strongroom from one made by the Go runtime, the TLS stack or the
// test itself; a test must arrange for its own code to keep no copy.
package memscan

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// Marker is a random printable value held only masked.
type Marker struct {
	masked []byte
	mask   byte
}

// NewMarker returns a marker of n bytes drawn from letters and digits.
func NewMarker(n int) *Marker {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	m := &Marker{masked: make([]byte, n), mask: 0xA5}
	rand.Read(m.masked)
	for i, b := range m.masked {
		m.masked[i] = alpha[int(b)%len(alpha)] ^ m.mask
	}
	return m
}

// Len returns the marker's length.
func (m *Marker) Len() int { return len(m.masked) }

// Reveal calls fn with the marker in clear, in a buffer mapped outside the
// Go heap and wiped (and unmapped) when fn returns. fn must not copy it
// anywhere it stays (writing it to a file descriptor is fine).
func (m *Marker) Reveal(fn func(clear []byte) error) error {
	buf, err := syscall.Mmap(-1, 0, len(m.masked), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return err
	}
	defer syscall.Munmap(buf)
	defer clear(buf)
	for i, b := range m.masked {
		buf[i] = b ^ m.mask
	}
	return fn(buf)
}

// Equal reports whether b is the marker, without unmasking it.
func (m *Marker) Equal(b []byte) bool {
	if len(b) != len(m.masked) {
		return false
	}
	for i, c := range b {
		if c^m.mask != m.masked[i] {
			return false
		}
	}
	return true
}

// From returns a marker for b, masked with m's mask, for a test that
// learns a value (a token a server issued) and must search for it later.
func (m *Marker) From(b []byte) *Marker {
	out := &Marker{masked: make([]byte, len(b)), mask: m.mask}
	for i, c := range b {
		out.masked[i] = c ^ m.mask
	}
	return out
}

// Match is one place the marker was found.
type Match struct {
	Addr   uintptr
	Region string // the mapping's line in /proc/self/maps
}

func (m Match) String() string { return fmt.Sprintf("%#x in %s", m.Addr, m.Region) }

const chunk = 1 << 20

// Find returns every place in the process's readable memory where the
// marker occurs in clear.
func (m *Marker) Find() ([]Match, error) {
	if len(m.masked) == 0 {
		return nil, fmt.Errorf("memscan: empty marker")
	}
	buf, err := syscall.Mmap(-1, 0, chunk, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, err
	}
	defer syscall.Munmap(buf)
	self := uintptr(unsafe.Pointer(&buf[0]))

	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return nil, err
	}
	defer mem.Close()

	var found []Match
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 2 || f[1][0] != 'r' {
			continue
		}
		if len(f) >= 6 && (f[5] == "[vvar]" || f[5] == "[vsyscall]" || f[5] == "[vvar_vclock]") {
			continue
		}
		lo, hi, ok := parseRange(f[0])
		if !ok || lo == self {
			continue
		}
		found = append(found, m.scanRegion(mem, buf, lo, hi, line)...)
	}
	return found, sc.Err()
}

// scanRegion searches [lo, hi) chunk by chunk, the chunks overlapping by
// the marker's length less one.
func (m *Marker) scanRegion(mem *os.File, buf []byte, lo, hi uintptr, region string) []Match {
	var found []Match
	step := uintptr(chunk - (len(m.masked) - 1))
	first := m.masked[0] ^ m.mask
	for at := lo; at < hi; at += step {
		n := min(uintptr(chunk), hi-at)
		got, err := mem.ReadAt(buf[:n], int64(at))
		if got <= 0 {
			_ = err // unreadable (a guard page inside a region): skip it
			continue
		}
		b := buf[:got]
		for i := 0; i+len(m.masked) <= len(b); {
			j := bytes.IndexByte(b[i:], first)
			if j < 0 {
				break
			}
			i += j
			if i+len(m.masked) <= len(b) && m.Equal(b[i:i+len(m.masked)]) {
				found = append(found, Match{Addr: at + uintptr(i), Region: region})
			}
			i++
		}
		clear(b)
		if n < uintptr(chunk) {
			break
		}
	}
	return found
}

func parseRange(s string) (lo, hi uintptr, ok bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(a, 16, 64)
	h, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}
