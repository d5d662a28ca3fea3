package file

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// helperEnv, in a child process of TestWriteIfAcrossProcesses, holds the
// directory of the counter file that TestHelperProcess increments.
const helperEnv = "STRONGROOM_FILE_HELPER_DIR"

// Processes and increments per process of TestWriteIfAcrossProcesses.
const helperProcesses, helperIncrements = 3, 50

// TestWriteIfAcrossProcesses starts processes that each increment a counter
// file through Fetch and WriteIf, retrying on conflict, all at once: no
// increment is lost, so the lock holds across processes.
func TestWriteIfAcrossProcesses(t *testing.T) {
	if !canLock {
		t.Skip("no file locks on this system")
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "counter"), []byte("0"))
	var wg sync.WaitGroup
	for i := range helperProcesses {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), helperEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("process %d: %v\n%s", i+1, err, out)
				return
			}
			for line := range strings.Lines(string(out)) {
				if _, stats, ok := strings.Cut(line, "stats: "); ok {
					t.Logf("process %d: %s", i+1, strings.TrimSpace(stats))
				}
			}
		})
	}
	// Start them together, once all are ready, so that they contend.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ready, _ := filepath.Glob(filepath.Join(dir, "ready.*"))
		if len(ready) == helperProcesses {
			break
		}
		if time.Now().After(deadline) {
			t.Error("the child processes were not ready within 30s")
			break
		}
	}
	writeFile(t, filepath.Join(dir, "go"), nil)
	wg.Wait()
	data, err := os.ReadFile(filepath.Join(dir, "counter"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), strconv.Itoa(helperProcesses*helperIncrements); got != want {
		t.Errorf("counter = %s, want %s: increments were lost", got, want)
	}
}

// TestHelperProcess increments the counter file in the directory named by
// helperEnv helperIncrements times; it runs only in a child process of
// TestWriteIfAcrossProcesses.
func TestHelperProcess(t *testing.T) {
	dir, ok := os.LookupEnv(helperEnv)
	if !ok {
		t.Skip("runs in a child process of TestWriteIfAcrossProcesses")
	}
	// The writers replace the file by rename under the lock: nothing to
	// settle, and waiting would only slow the test down.
	p := newProvider(t, &Options{Settle: -1, PollInterval: -1})
	ref := "file://" + filepath.ToSlash(filepath.Join(dir, "counter"))
	writeFile(t, filepath.Join(dir, "ready."+strconv.Itoa(os.Getpid())), nil)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no start signal within 30s")
		}
	}
	conflicts := 0
	for range helperIncrements {
		for {
			v, err := p.Fetch(t.Context(), ref)
			if err != nil {
				t.Fatal(err)
			}
			n, err := strconv.Atoi(string(v.Data))
			if err != nil {
				t.Fatalf("counter %q: %v", v.Data, err)
			}
			_, err = p.WriteIf(t.Context(), ref, []byte(strconv.Itoa(n+1)), v.Version)
			if err == nil {
				break
			}
			if !errors.Is(err, providers.ErrConflict) {
				t.Fatal(err)
			}
			conflicts++
		}
	}
	t.Logf("stats: %d increments, %d conflicts", helperIncrements, conflicts)
}
