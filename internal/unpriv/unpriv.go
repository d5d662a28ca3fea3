// Package unpriv runs a test again as an unprivileged user under a
// locked-memory limit, for tests of behaviour at RLIMIT_MEMLOCK.
//
// Root holds CAP_IPC_LOCK, so the limit does not bind it; the test binary is
// copied where user nobody can read it and re-run through setpriv and
// prlimit (util-linux). Tests only.
package unpriv

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

const childEnv = "STRONGROOM_UNPRIVILEGED_CHILD"

// Child reports whether this process is the unprivileged re-run.
func Child() bool { return os.Getenv(childEnv) == "1" }

// Run re-runs the tests matching the regular expression run as user nobody
// with RLIMIT_MEMLOCK set to memlock bytes, and returns their output. It
// skips t when the process is not root or setpriv or prlimit is missing, and
// fails t when the re-run fails. args are passed to the test binary.
func Run(t *testing.T, memlock int64, run string, args ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpriv: needs root to switch to user nobody")
	}
	setpriv, err1 := exec.LookPath("setpriv")
	prlimit, err2 := exec.LookPath("prlimit")
	if err1 != nil || err2 != nil {
		t.Skip("unpriv: setpriv or prlimit (util-linux) not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "unpriv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "test.bin")
	if err := copyFile(bin, self); err != nil {
		t.Fatal(err)
	}
	lim := strconv.FormatInt(memlock, 10)
	cmdArgs := []string{"--reuid=nobody", "--regid=nogroup", "--clear-groups",
		prlimit, "--memlock=" + lim + ":" + lim, bin, "-test.run=^(" + run + ")$", "-test.v"}
	cmd := exec.Command(setpriv, append(cmdArgs, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), childEnv+"=1", "HOME="+dir, "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged run of %s failed: %v\n%s", run, err, out)
	}
	return string(out)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
