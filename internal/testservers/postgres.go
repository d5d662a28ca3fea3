package testservers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is a PostgreSQL server on loopback, with a data directory of
// its own, for one test. Its superuser is "postgres", whose password is
// made for this run; every role logs in with scram-sha-256.
type Postgres struct {
	// Host is the address the server listens on ("127.0.0.1").
	Host string
	// Port is its TCP port.
	Port int
	// Password is the password of the superuser "postgres". Tests must
	// not log it: DSN puts it in a connection string for pgx only.
	Password string
	// Admin is a pool connected to the database "postgres" as the
	// superuser, closed when the test ends (before the server stops).
	Admin *pgxpool.Pool

	dir string
}

// PostgresUser is the superuser of a server StartPostgres starts.
const PostgresUser = "postgres"

// StartPostgres starts a PostgreSQL server (the highest version under
// /usr/lib/postgresql/*/bin, or the bin directory STRONGROOM_POSTGRES
// names) in a new directory on a free loopback port, and stops it and
// removes the directory when the test ends. The server refuses to run as
// root, so as root initdb and pg_ctl run as user nobody through setpriv.
// When the binaries are missing it skips t, or fails it under
// STRONGROOM_REQUIRE_SERVERS=1. When the test fails, the end of the
// server's log is shown, with the superuser password scrubbed.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := postgresBin(t)
	var runAs []string
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			unavailable(t, "setpriv (util-linux) is missing: as root, PostgreSQL must run as user nobody; run apt-get install util-linux")
		}
		runAs = []string{setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"}
	}

	// Not t.TempDir: user nobody must reach the directory, and the test's
	// temporary directory is private to root.
	dir, err := os.MkdirTemp("", "strongroom-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{Host: "127.0.0.1", dir: dir}
	t.Cleanup(func() {
		p.stop(t, bin, runAs)
		if t.Failed() {
			t.Logf("postgres log (end):\n%s", p.Log())
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var pw [18]byte
	rand.Read(pw[:])
	p.Password = hex.EncodeToString(pw[:])
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if runAs != nil {
		uid, gid := nobody(t)
		for _, f := range []string{dir, pwfile} {
			if err := os.Chown(f, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}

	// --no-sync and fsync=off: a test's server need not survive a crash.
	p.run(t, runAs, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", PostgresUser,
		"--auth=scram-sha-256", "--pwfile="+pwfile, "--encoding=UTF8", "--locale=C", "--no-sync")
	os.Remove(pwfile)

	// A free port may be taken between FreePort and the server's bind:
	// try a few.
	var startErr error
	for range 3 {
		p.Port = FreePort(t)
		opts := fmt.Sprintf("-h %s -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", p.Host, p.Port, dir)
		cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start")
		var out []byte
		out, startErr = p.command(runAs, cmd).CombinedOutput()
		if startErr == nil {
			break
		}
		startErr = fmt.Errorf("%v: %s", startErr, p.scrub(string(out)))
	}
	if startErr != nil {
		t.Fatalf("starting postgres: %v", startErr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, p.DSN(PostgresUser, p.Password, "postgres"))
	if err != nil {
		t.Fatalf("postgres admin pool: %v", err)
	}
	t.Cleanup(pool.Close) // runs before the server stops
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("postgres admin pool: %v", err)
	}
	p.Admin = pool
	return p
}

// DSN returns a connection string (keyword/value form, TLS off) for user
// with password on database db of this server. It holds the password:
// pass it to pgx, never to a log.
func (p *Postgres) DSN(user, password, db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable",
		p.Host, p.Port, dsnQuote(user), dsnQuote(password), dsnQuote(db))
}

// Log returns the last 4 KiB of the server's log, with the superuser
// password scrubbed.
func (p *Postgres) Log() string {
	b, err := os.ReadFile(filepath.Join(p.dir, "log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return p.scrub(string(b))
}

func (p *Postgres) scrub(s string) string {
	if p.Password == "" {
		return s
	}
	return strings.ReplaceAll(s, p.Password, "[REDACTED]")
}

// run runs a command to completion, as runAs, failing t with its output.
func (p *Postgres) run(t testing.TB, runAs []string, name string, args ...string) {
	t.Helper()
	out, err := p.command(runAs, exec.Command(name, args...)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(name), err, p.scrub(string(out)))
	}
}

// command makes cmd run through runAs (setpriv, as root), in the server's
// directory: the server cannot work in a directory it may not read.
func (p *Postgres) command(runAs []string, cmd *exec.Cmd) *exec.Cmd {
	if runAs != nil {
		cmd = exec.Command(runAs[0], append(append(runAs[1:len(runAs):len(runAs)], cmd.Path), cmd.Args[1:]...)...)
	}
	cmd.Dir = p.dir
	return cmd
}

// stop stops the server, if it started, and waits for it to exit.
func (p *Postgres) stop(t testing.TB, bin string, runAs []string) {
	if _, err := os.Stat(filepath.Join(p.dir, "data", "postmaster.pid")); err != nil {
		return
	}
	cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w", "-t", "60", "stop")
	if out, err := p.command(runAs, cmd).CombinedOutput(); err != nil {
		t.Errorf("stopping postgres: %v\n%s", err, p.scrub(string(out)))
	}
}

// postgresBin returns the bin directory of the PostgreSQL to run.
func postgresBin(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("STRONGROOM_POSTGRES"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			unavailable(t, "STRONGROOM_POSTGRES="+dir+" holds no initdb")
		}
		return dir
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		unavailable(t, "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); run apt-get install postgresql or set STRONGROOM_POSTGRES to its bin directory")
	}
	version := func(path string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
		return v
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return filepath.Dir(found[0])
}

// nobody returns the ids setpriv runs the server as.
func nobody(t testing.TB) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		unavailable(t, "no user nobody to run PostgreSQL as: "+err.Error())
	}
	g, err := user.LookupGroup("nogroup")
	if err != nil {
		unavailable(t, "no group nogroup to run PostgreSQL as: "+err.Error())
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(g.Gid)
	return uid, gid
}

// unavailable skips t, or fails it under STRONGROOM_REQUIRE_SERVERS=1, as
// Binary does for a server that is not built.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("STRONGROOM_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// dsnQuote quotes a value of a keyword/value connection string.
func dsnQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
