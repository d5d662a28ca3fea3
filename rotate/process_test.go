package rotate_test

// Tests that run rotators in child processes (this test binary, run again
// with STRONGROOM_ROTATE_CHILD set) over one providers/file directory and
// a real PostgreSQL: a child killed with SIGKILL at every step in turn,
// then another instance resuming; and three processes sharing one policy.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/rotate/postgres"
	"github.com/strongroom/strongroom/secrets"
)

const childEnv = "STRONGROOM_ROTATE_CHILD"

// childConfig tells a child process what to do.
type childConfig struct {
	Mode     string // "rotate" (RotateNow once), "resume" (until the record is idle), "fleet" (run the schedule for Run)
	Dir      string
	AdminDSN string
	Host     string
	Port     uint16
	KillAt   string // a kill point: the child says "AT <point>" there and waits to be killed
	FailTest bool   // the target's Test fails: the rotation rolls back
	Instance string
	Lease    time.Duration
	Overlap  time.Duration
	Every    time.Duration
	Run      time.Duration
}

// TestRotateChild is the child process's entry point; it does nothing in
// the parent.
func TestRotateChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("the entry point of child processes")
	}
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Println("BAD CONFIG", err)
		os.Exit(2)
	}
	if err := runChild(c); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	os.Exit(0)
}

var (
	pointsMu sync.Mutex
	reached  = map[string]int{}
)

// killPoint announces that the child is at point, if it is the one it
// was told to stop at ("point", or "point#n" for its n-th time), and waits
// there to be killed.
func killPoint(c childConfig, point string) {
	pointsMu.Lock()
	reached[point]++
	n := reached[point]
	pointsMu.Unlock()
	if c.KillAt == point && n == 1 || c.KillAt == fmt.Sprintf("%s#%d", point, n) {
		fmt.Printf("AT %s\n", c.KillAt)
		select {}
	}
}

// pausingFiles is the file provider with kill points around the writes of
// the pending and current secrets.
type pausingFiles struct {
	*file.Provider
	c childConfig
}

func (p pausingFiles) Write(ctx context.Context, ref string, data []byte) (string, error) {
	what := map[string]string{"file:db.pending": "pending", "file:db": "current"}[ref]
	if what != "" {
		killPoint(p.c, what+"-before")
	}
	v, err := p.Provider.Write(ctx, ref, data)
	if what != "" && err == nil {
		killPoint(p.c, what+"-after")
	}
	return v, err
}

// pausingTarget is a target with kill points around each call.
type pausingTarget struct {
	rotate.Target
	c    childConfig
	sets *atomic.Int64
}

func (p pausingTarget) Set(ctx context.Context, c rotate.Credential) error {
	killPoint(p.c, "set-before")
	err := p.Target.Set(ctx, c)
	if err == nil {
		p.sets.Add(1)
		killPoint(p.c, "set-after")
	}
	return err
}

func (p pausingTarget) Test(ctx context.Context, c rotate.Credential) error {
	killPoint(p.c, "test-before")
	err := p.Target.Test(ctx, c)
	if err == nil && p.c.FailTest {
		err = errors.New("the application's health check failed with the new credential")
	}
	if err == nil {
		killPoint(p.c, "test-after")
	}
	return err
}

func (p pausingTarget) Retire(ctx context.Context, keep rotate.Credential) error {
	killPoint(p.c, "retire-before")
	err := p.Target.Retire(ctx, keep)
	if err == nil {
		killPoint(p.c, "retire-after")
	}
	return err
}

func runChild(c childConfig) error {
	ctx := context.Background()
	fp, err := file.New(&file.Options{Root: c.Dir, PollInterval: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	store, err := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{"file": pausingFiles{fp, c}},
	})
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Add(secrets.Spec{Name: "db", Ref: "file:db", Overlap: time.Hour}); err != nil {
		return err
	}
	admin, err := pgxpool.New(ctx, c.AdminDSN)
	if err != nil {
		return err
	}
	defer admin.Close()
	pg, err := postgres.New(admin, &postgres.Options{Roles: []string{"app_a", "app_b"}, Host: c.Host, Port: c.Port, Database: "postgres"})
	if err != nil {
		return err
	}
	var sets atomic.Int64
	rot, err := rotate.New(store, &rotate.Options{Instance: c.Instance, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer rot.Close()
	var completedMu sync.Mutex
	var completed []string
	rot.Subscribe(func(e rotate.Event) {
		if e.Kind == rotate.EventCompleted || e.Kind == rotate.EventRolledBack {
			completedMu.Lock()
			completed = append(completed, e.Rotation)
			completedMu.Unlock()
		}
	})
	err = rot.Add(ctx, rotate.Rotation{
		Secret: "db", PendingRef: "file:db.pending", StateRef: "file:db.rotation",
		Target: pausingTarget{pg, c, &sets}, Strategy: rotate.Alternating("app_a", "app_b"),
		Policy: rotate.Policy{Every: c.Every, Overlap: c.Overlap, ReadQuiet: time.Millisecond, Lease: c.Lease, Retry: time.Second},
	})
	if err != nil {
		return err
	}
	switch c.Mode {
	case "rotate":
		err := rot.RotateNow(ctx, "db")
		fmt.Printf("DONE %v\n", err)
	case "resume":
		deadline := time.Now().Add(60 * time.Second)
		for {
			st, err := rot.Status("db")
			if err != nil {
				return err
			}
			if st.Step == rotate.StepIdle && st.LastOutcome != "" {
				fmt.Printf("DONE %s\n", st.LastOutcome)
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the rotation did not end: step %s", st.Step)
			}
			time.Sleep(20 * time.Millisecond)
		}
	case "fleet":
		time.Sleep(c.Run)
		// Stop once no rotation is under way, so that none is left half
		// done (another instance would finish it after the lease, but the
		// test stops them all).
		for i := 0; ; i++ {
			st, err := rot.Status("db")
			if err != nil {
				return err
			}
			if st.Step == rotate.StepIdle {
				break
			}
			if i > 3000 {
				return errors.New("a rotation stayed under way")
			}
			time.Sleep(10 * time.Millisecond)
		}
		rot.Close() // no rotation starts here after this
		// Once every process has stopped (the parent says so with a
		// file), the backend's value is final: serve it.
		fmt.Println("STOPPED")
		for i := 0; ; i++ {
			if _, err := os.Stat(filepath.Join(c.Dir, ".stop-read")); err == nil {
				break
			}
			if i > 6000 {
				return errors.New("the parent never said every process had stopped")
			}
			time.Sleep(10 * time.Millisecond)
		}
		want, err := os.ReadFile(filepath.Join(c.Dir, "db"))
		if err != nil {
			return err
		}
		for i := 0; ; i++ {
			sec, err := store.Get(ctx, "db")
			if err == nil && sec.Equal(want) {
				break
			}
			if i > 500 {
				return errors.New("the store never served the backend's current value")
			}
			time.Sleep(20 * time.Millisecond)
		}
		sum := sha256.Sum256(want)
		completedMu.Lock()
		fmt.Printf("SETS %d\nCOMPLETED %s\nSERVES %s\n", sets.Load(), strings.Join(completed, ","), hex.EncodeToString(sum[:8]))
		completedMu.Unlock()
	}
	return nil
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	lines chan string
	out   strings.Builder
	mu    sync.Mutex
	done  chan struct{}
}

func startChild(t *testing.T, c childConfig) *child {
	t.Helper()
	raw, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRotateChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	ch := &child{cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(ch.done)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			ch.mu.Lock()
			ch.out.WriteString(s.Text() + "\n")
			ch.mu.Unlock()
			select {
			case ch.lines <- s.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return ch
}

// waitFor returns the first line starting with one of prefixes.
func (ch *child) waitFor(t *testing.T, timeout time.Duration, prefixes ...string) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-ch.lines:
			for _, p := range prefixes {
				if strings.HasPrefix(l, p) {
					return l
				}
			}
		case <-ch.done:
			// Lines read before the end may still be queued.
			for {
				select {
				case l := <-ch.lines:
					for _, p := range prefixes {
						if strings.HasPrefix(l, p) {
							return l
						}
					}
					continue
				default:
				}
				break
			}
			ch.mu.Lock()
			defer ch.mu.Unlock()
			t.Fatalf("the child ended without printing %q:\n%s", prefixes, ch.out.String())
		case <-deadline:
			ch.mu.Lock()
			defer ch.mu.Unlock()
			t.Fatalf("no %q from the child in %v:\n%s", prefixes, timeout, ch.out.String())
		}
	}
}

// pgFixture is one PostgreSQL server with the pair app_a, app_b.
type pgFixture struct {
	srv   *testservers.Postgres
	admin string
}

func newPG(t *testing.T) *pgFixture {
	t.Helper()
	srv := testservers.StartPostgres(t)
	ctx := context.Background()
	for _, r := range []string{"app_a", "app_b"} {
		if _, err := srv.Admin.Exec(ctx, "CREATE ROLE "+r+" LOGIN"); err != nil {
			t.Fatal(err)
		}
	}
	return &pgFixture{srv: srv, admin: srv.DSN(testservers.PostgresUser, srv.Password, "postgres")}
}

// reset gives app_a the password initial and app_b none, and writes the
// current secret for it into a fresh directory.
func (f *pgFixture) reset(t *testing.T, initial string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := f.srv.Admin.Exec(ctx, "ALTER ROLE app_a PASSWORD '"+initial+"'"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Admin.Exec(ctx, "ALTER ROLE app_b PASSWORD NULL"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "db"), []byte(`{"account":"app_a","secret":"`+initial+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// logsIn reports whether account logs in with password.
func (f *pgFixture) logsIn(t *testing.T, account string, password []byte) bool {
	t.Helper()
	cfg, err := pgx.ParseConfig(f.srv.DSN(account, string(password), "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	conn.Close(ctx)
	return true
}

// checkConsistent checks what the rotation left: a record at rest, a
// current credential the server accepts, and no other credential the
// backend holds or held (the pending one, the initial one) accepted.
func (f *pgFixture) checkConsistent(t *testing.T, dir, initial string, seen ...[]byte) (current string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "db.rotation"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Step string `json:"step"`
	}
	if json.Unmarshal(raw, &rec); rec.Step != "idle" {
		t.Errorf("the state record is at step %q, want idle", rec.Step)
	}
	cur, err := os.ReadFile(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	account, secret, err := rotate.SplitAccount(cur)
	if err != nil {
		t.Fatalf("the current value: %v", err)
	}
	if !f.logsIn(t, account, secret) {
		t.Errorf("the server refuses the credential the backend holds as current (%s)", account)
	}
	other := map[string]string{"app_a": "app_b", "app_b": "app_a"}[account]
	candidates := map[string][]byte{"initial": []byte(initial), "current": secret}
	for i, v := range seen {
		if _, s, err := rotate.SplitAccount(v); err == nil {
			candidates[fmt.Sprintf("pending at the crash (%d)", i)] = s
		}
	}
	if p, err := os.ReadFile(filepath.Join(dir, "db.pending")); err == nil {
		if _, s, err := rotate.SplitAccount(p); err == nil {
			candidates["pending"] = s
		}
	}
	for name, pw := range candidates {
		if f.logsIn(t, other, pw) {
			t.Errorf("the idle account %s accepts the %s password: a credential that is not current stays valid", other, name)
		}
		if name != "current" && string(pw) != string(secret) && f.logsIn(t, account, pw) {
			t.Errorf("the current account %s also accepts the %s password", account, name)
		}
	}
	return string(cur)
}

// TestCrashAtEveryStep kills a rotating process (SIGKILL) at every step of
// a rotation in turn, before and after its side effect, then lets another
// instance resume once the lease has run out: the rotation completes (or,
// when the test fails, rolls back), the server accepts the credential the
// backend holds as current, and no other credential stays valid.
func TestCrashAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and many processes")
	}
	pg := newPG(t)
	type point struct {
		at       string
		failTest bool
		want     string
	}
	var points []point
	// The pending secret's first write is Add's (it is created from the
	// current value); the rotation's is the second.
	for _, at := range []string{"pending-before#2", "pending-after#2", "set-before", "set-after", "test-before", "test-after",
		"current-before", "current-after", "retire-before", "retire-after"} {
		points = append(points, point{at, false, "rotated"})
	}
	// In a rollback: retiring the pending credential at the target, then
	// discarding it (the pending secret's third write).
	for _, at := range []string{"test-before", "retire-before", "retire-after", "pending-before#3", "pending-after#3"} {
		points = append(points, point{at, true, "rolled-back"})
	}
	for i, p := range points {
		name := p.at
		if p.failTest {
			name = "rollback/" + name
		}
		t.Run(name, func(t *testing.T) {
			initial := fmt.Sprintf("initial-password-%02d", i)
			dir := pg.reset(t, initial)
			c := childConfig{Mode: "rotate", Dir: dir, AdminDSN: pg.admin, Host: pg.srv.Host, Port: uint16(pg.srv.Port),
				KillAt: p.at, FailTest: p.failTest, Instance: "crashing", Lease: time.Second, Overlap: 200 * time.Millisecond}
			first := startChild(t, c)
			line := first.waitFor(t, 30*time.Second, "AT ", "DONE", "ERROR")
			if line != "AT "+p.at {
				t.Fatalf("the child did not stop at %s: %q", p.at, line)
			}
			if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			first.cmd.Wait()
			// What the pending secret held when the process died: once
			// discarded, the backend no longer holds it, and neither may
			// the server accept it.
			atKill, _ := os.ReadFile(filepath.Join(dir, "db.pending"))
			c.Mode, c.KillAt, c.Instance = "resume", "", "resuming"
			second := startChild(t, c)
			line = second.waitFor(t, 60*time.Second, "DONE", "ERROR")
			if line != "DONE "+p.want {
				t.Errorf("after the crash the rotation ended %q, want %q", line, "DONE "+p.want)
			}
			cur := pg.checkConsistent(t, dir, initial, atKill)
			rolledBack := strings.Contains(cur, initial)
			if rolledBack != (p.want == "rolled-back") {
				t.Errorf("the current value is the initial one: %v; want %v", rolledBack, p.want == "rolled-back")
			}
		})
	}
}

// TestFleetRotatesOnce runs three processes over one directory and one
// policy (every 2 s) for 9 s: each due rotation happens once (the target's
// password is set once per rotation, across the three), and all three
// serve the backend's current value afterwards.
func TestFleetRotatesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three processes")
	}
	pg := newPG(t)
	dir := pg.reset(t, "fleet-initial-password")
	var children []*child
	for i := range 3 {
		children = append(children, startChild(t, childConfig{
			Mode: "fleet", Dir: dir, AdminDSN: pg.admin, Host: pg.srv.Host, Port: uint16(pg.srv.Port),
			Instance: fmt.Sprintf("fleet-%d", i+1), Lease: 3 * time.Second, Overlap: 200 * time.Millisecond,
			Every: 2 * time.Second, Run: 9 * time.Second,
		}))
	}
	// Each process stops once no rotation is under way as it sees it, and
	// the one that owns a rotation finishes it first: once all three have
	// stopped, nothing rotates any more.
	for i, ch := range children {
		if line := ch.waitFor(t, 60*time.Second, "STOPPED", "ERROR"); line != "STOPPED" {
			t.Fatalf("child %d: %s", i+1, line)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".stop-read"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var sets int
	ids := map[string]int{}
	var serves []string
	for i, ch := range children {
		var line string
		for {
			line = ch.waitFor(t, 60*time.Second, "SETS ", "COMPLETED ", "SERVES ", "ERROR")
			if strings.HasPrefix(line, "ERROR") {
				t.Fatalf("child %d: %s", i+1, line)
			}
			switch {
			case strings.HasPrefix(line, "SETS "):
				var n int
				fmt.Sscan(strings.TrimPrefix(line, "SETS "), &n)
				sets += n
				continue
			case strings.HasPrefix(line, "COMPLETED "):
				for _, id := range strings.Split(strings.TrimPrefix(line, "COMPLETED "), ",") {
					if id != "" {
						ids[id]++
					}
				}
				continue
			}
			serves = append(serves, strings.TrimPrefix(line, "SERVES "))
			break
		}
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("rotation %s was completed by %d processes", id, n)
		}
	}
	if len(ids) < 3 || len(ids) > 5 {
		t.Errorf("%d rotations in 9 s at one every 2 s", len(ids))
	}
	if sets != len(ids) {
		t.Errorf("the target's password was set %d times for %d rotations", sets, len(ids))
	}
	for i, s := range serves {
		if s != serves[0] {
			t.Errorf("process %d serves %s, process 1 %s", i+1, s, serves[0])
		}
	}
	cur := pg.checkConsistent(t, dir, "fleet-initial-password")
	sum := sha256.Sum256([]byte(cur))
	if serves[0] != hex.EncodeToString(sum[:8]) {
		t.Errorf("the processes serve %s, the backend holds %s", serves[0], hex.EncodeToString(sum[:8]))
	}
	t.Logf("%d rotations, %d password changes, across 3 processes", len(ids), sets)
}
