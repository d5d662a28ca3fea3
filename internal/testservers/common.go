// Package testservers finds and starts the real servers that tests run
// against (an ACME CA, an OAuth 2.0 server, ...). Tests only.
//
// Servers are built by scripts under .ci/ into .cache/bin/ (or wherever
// the STRONGROOM_<NAME> variable points). A test whose server is missing is
// skipped with the command that builds it, unless STRONGROOM_REQUIRE_SERVERS
// is 1 (as .ci/run sets), where it fails: CI never skips them.
package testservers

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Root returns the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Binary returns the path of the server binary called name: the value of
// STRONGROOM_<NAME> (upper case, '-' as '_') if set, else .cache/bin/<name>
// in the repository. When the file is missing it skips t, or fails it under
// STRONGROOM_REQUIRE_SERVERS=1, naming build, the command that makes it.
func Binary(t testing.TB, name, build string) string {
	t.Helper()
	env := "STRONGROOM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join(Root(), ".cache", "bin", name)
	}
	if _, err := os.Stat(path); err != nil {
		msg := name + " is not built (" + path + "); run " + build + " or set " + env
		if os.Getenv("STRONGROOM_REQUIRE_SERVERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
