//go:build linux

package tokens

import (
	"bytes"
	"io"
	"net"
	"testing"
	"testing/iotest"

	"github.com/strongroom/strongroom/internal/memscan"
)

// TestWipingConn: what Read and Write were given is wiped when the
// connection closes; a Read under way during Close is wiped when it
// returns, and the wiped channel says when all is done.
func TestWipingConn(t *testing.T) {
	a, b := net.Pipe()
	c := newWipingConn(a)
	defer b.Close()
	go func() {
		b.Write([]byte("first"))
		io.ReadFull(b, make([]byte, 6))
	}()
	rbuf := make([]byte, 16)
	n, err := c.Read(rbuf)
	if err != nil || string(rbuf[:n]) != "first" {
		t.Fatalf("read %q, %v", rbuf[:n], err)
	}
	wbuf := []byte("second")
	if _, err := c.Write(wbuf); err != nil {
		t.Fatal(err)
	}
	pending := make([]byte, 8)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		c.Read(pending) // blocks until Close
	}()
	c.Close()
	<-readDone
	<-c.wiped
	if !bytes.Equal(rbuf, make([]byte, 16)) || !bytes.Equal(wbuf, make([]byte, 6)) {
		t.Fatalf("not wiped: read buffer %q, write buffer %q", rbuf, wbuf)
	}
}

// TestReadBodyLeavesNoCopy: a body read in many small pieces into a
// buffer that grows several times leaves no copy once the result is wiped.
func TestReadBodyLeavesNoCopy(t *testing.T) {
	m := memscan.NewMarker(40)
	var body []byte
	err := m.Reveal(func(marker []byte) error {
		// The marker near the start of 10 KiB: each buffer the reader
		// outgrows held it.
		src := make([]byte, 10<<10)
		copy(src[1000:], marker)
		defer clear(src)
		var err error
		body, err = readBody(iotest.OneByteReader(bytes.NewReader(src)), -1, maxBody)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(body) != 10<<10 || !m.Equal(body[1000:1000+m.Len()]) {
		t.Fatalf("read %d bytes", len(body))
	}
	clear(body)
	found, err := m.Find()
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Fatalf("copies left: %v", found)
	}
}
