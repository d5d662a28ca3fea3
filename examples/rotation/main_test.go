package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strongroom/strongroom/internal/testservers"
)

// summary is the last line of a run that ended without a failed call.
var summary = regexp.MustCompile(`rotation: [0-9.]+s, (\d+) rotations? completed, 0 rolled back; (\d+) calls?, 0 failed\n$`)

// runFor runs the example with cfg and checks that no call failed, that
// at least one rotation completed, and that no goroutine is left.
func runFor(t *testing.T, cfg config) (output string) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	var out, log bytes.Buffer // written only by run's goroutines, all ended when it returns
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	err := run(context.Background(), cfg, &out)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v\nlog:\n%s", err, log.String())
	}
	m := summary.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no summary with 0 failed calls at the end of the output\nlog:\n%s", log.String())
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 {
		t.Errorf("%d rotations completed, want at least 1", n)
	}
	if n, _ := strconv.Atoi(m[2]); n < 100 {
		t.Errorf("%d calls, want at least 100", n)
	}
	goleak.VerifyNone(t, before)
	return out.String()
}

// The default mode: the API key rotates under the clients' calls.
func TestAPIKeyRotation(t *testing.T) {
	runFor(t, config{Duration: 4 * time.Second, Every: time.Second, Overlap: 500 * time.Millisecond, Clients: 4})
}

// The API answers the keys it holds, by either header, and 401 otherwise.
func TestAPIAuthenticates(t *testing.T) {
	a, err := newAPI()
	if err != nil {
		t.Fatal(err)
	}
	defer a.srv.Close()
	defer a.client.CloseIdleConnections()
	a.add([]byte("key-1"))
	a.add([]byte("key-2"))
	a.add([]byte("key-1"))
	if a.count() != 2 {
		t.Fatalf("%d keys after adding two, one twice", a.count())
	}
	call := func(header, value string) error {
		req, err := http.NewRequest(http.MethodGet, a.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if header != "" {
			req.Header.Set(header, value)
		}
		return ping(a.client, req)
	}
	for _, c := range []struct {
		header, value string
		ok            bool
	}{
		{"Authorization", "Bearer key-1", true},
		{"X-API-Key", "key-2", true},
		{"Authorization", "Bearer key-3", false},
		{"Authorization", "Basic key-1", false},
		{"X-API-Key", "", false},
		{"", "", false},
	} {
		if err := call(c.header, c.value); (err == nil) != c.ok {
			t.Errorf("%s: %q: %v, want ok %v", c.header, c.value, err, c.ok)
		}
	}
	a.keep([]byte("key-2"))
	if err := call("X-API-Key", "key-1"); err == nil {
		t.Error("key-1 accepted after keep(key-2)")
	}
	if err := call("X-API-Key", "key-2"); err != nil {
		t.Errorf("key-2 after keep(key-2): %v", err)
	}
}

// -postgres: an alternating pair of roles rotates under pools that keep
// logging in; the roles are gone at the end.
func TestPostgresRotation(t *testing.T) {
	pg := testservers.StartPostgres(t)
	out := runFor(t, config{Duration: 5 * time.Second, Every: 1500 * time.Millisecond, Overlap: time.Second, Clients: 4,
		Postgres: pg.DSN(testservers.PostgresUser, pg.Password, "postgres")})
	// Both roles were logged in as: the pools followed the rotations.
	m := regexp.MustCompile(`logged in (\d+) times as ` + roleA + ` and (\d+) as ` + roleB).FindStringSubmatch(out)
	if m == nil || m[1] == "0" || m[2] == "0" {
		t.Errorf("logins per role: %q, want some as each role", m)
	}
	var left int
	if err := pg.Admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname IN ($1, $2)", roleA, roleB).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d of the example's roles are left (%v), want none", left, err)
	}
}
