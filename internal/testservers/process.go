package testservers

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// process is a server started for one test: its output is kept (the first
// MiB) for a failing test to show, and it is stopped, an interrupt then a
// kill after grace, when the test ends.
type process struct {
	name  string
	cmd   *exec.Cmd
	grace time.Duration
	done  chan struct{}

	mu  sync.Mutex
	out bytes.Buffer
}

// start runs cmd, keeping its standard output and error, and stops it when
// t ends; name is for messages.
func start(t testing.TB, name string, cmd *exec.Cmd, grace time.Duration) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, grace: grace, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.Log())
		}
	})
	return p
}

// waitReady calls ready until it reports true, and fails t when the
// process exits first or timeout passes; ready's error, if any, says why
// it is not ready yet.
func (p *process) waitReady(t testing.TB, timeout time.Duration, ready func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready:\n%s", p.name, p.Log())
		default:
		}
		ok, err := ready()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s (%v):\n%s", p.name, timeout, err, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Write keeps the first MiB of the process's output.
func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out.Len() < 1<<20 {
		p.out.Write(b)
	}
	return len(b), nil
}

// Log returns what the server has written to its standard output and error
// so far (its first MiB), for a failing test to show.
func (p *process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop ends the process: an interrupt, then a kill if it lingers past
// grace.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(p.grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}
