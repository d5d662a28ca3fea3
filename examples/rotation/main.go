// Command rotation rotates a credential every few seconds while clients in
// the same program use it continuously, and counts the calls that fail:
// none should. By default the credential is the key of an HTTP API on
// loopback that accepts several keys at once (rotate.Overlapping); with
// -postgres it is the password of a pair of PostgreSQL roles
// (rotate.Alternating). It prints each rotation as it happens and, at the
// end, the totals; it exits 1 if a call failed. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
)

// config is what the flags set.
type config struct {
	Duration time.Duration // how long the clients run
	Every    time.Duration // the rotation period (Policy.Every)
	Overlap  time.Duration // how long the old credential stays valid (Policy.Overlap)
	Clients  int           // client goroutines
	Postgres string        // a PostgreSQL server's URL: rotate roles there instead of an API key
	Logger   *slog.Logger  // the store's and the rotator's log; nil: discarded
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.Duration, "duration", 15*time.Second, "how long the clients run")
	flag.DurationVar(&cfg.Every, "every", 3*time.Second, "how often the credential rotates")
	flag.DurationVar(&cfg.Overlap, "overlap", time.Second, "how long the old credential stays valid after the new one is promoted")
	flag.IntVar(&cfg.Clients, "clients", 8, "client goroutines (with -postgres, each with a pool of its own)")
	flag.StringVar(&cfg.Postgres, "postgres", "", "`URL` of a PostgreSQL server, as a superuser: rotate the passwords of two roles there instead of an API key")
	verbose := flag.Bool("v", false, "log on stderr: the store's log and the rotator's audit log (a line per step)")
	flag.Parse()
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt) // Ctrl-C ends the run early, with the totals
	err := run(ctx, cfg, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rotation:", err)
		os.Exit(1)
	}
}

// system is what rotates and what uses it: the API and its clients, or
// the PostgreSQL roles and their pools.
type system struct {
	name     string          // the target, for the output: "the API"
	secret   string          // the secret the clients read
	target   rotate.Target   // where the credential is valid
	strategy rotate.Strategy // how the target takes a new one
	kind     string          // the strategy, for the output
	pause    time.Duration   // between a client's calls
	// call makes one call as client i, with the credential the store
	// holds at that moment.
	call func(ctx context.Context, i int) error
	// accepts says what the target accepts now, for the event lines.
	accepts func(ctx context.Context) string
	// report, if set, says more at the end.
	report func() string
	close  func()
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	if cfg.Clients < 1 || cfg.Duration <= 0 || cfg.Every <= 0 || cfg.Overlap <= 0 {
		return errors.New("-clients, -duration, -every and -overlap must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	out = &lockedWriter{w: out} // events print from the rotator's goroutine

	// The backend: files in a temporary directory. The rotator keeps the
	// pending credential and its state record there too, beside the
	// current one; the file provider's conditional write (WriteIf) is what
	// lets several instances share a rotation.
	dir, err := os.MkdirTemp("", "strongroom-rotation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fp, err := file.New(&file.Options{Root: dir, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{file.Scheme: fp}, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	defer store.Close()

	var sys *system
	if cfg.Postgres == "" {
		sys, err = startAPI(ctx, cfg, store, dir, out)
	} else {
		sys, err = startPostgres(ctx, cfg, store, dir, out)
	}
	if err != nil {
		return err
	}
	defer sys.close()

	rot, err := rotate.New(store, &rotate.Options{Logger: cfg.Logger})
	if err != nil {
		return err
	}
	defer rot.Close()
	var calls counts
	start := time.Now()
	ev := &eventPrinter{out: out, start: start, sys: sys, calls: &calls, started: map[string]time.Time{}}
	cancelEvents := rot.Subscribe(ev.print)
	defer cancelEvents()
	err = rot.Add(ctx, rotate.Rotation{
		Secret:     sys.secret,
		PendingRef: "file:" + sys.secret + ".pending",  // the new credential, from its creation to its promotion
		StateRef:   "file:" + sys.secret + ".rotation", // the state record: the step under way, who holds it, when the next is due
		Target:     sys.target,
		Strategy:   sys.strategy,
		Policy: rotate.Policy{
			Every:   cfg.Every,
			Overlap: cfg.Overlap,
			// After the overlap the old credential is retired once nothing
			// in this process has read it for this long.
			ReadQuiet: 100 * time.Millisecond,
			Retry:     time.Second, // after a rolled-back rotation (none, here)
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "rotation: rotating %s every %v (%s, overlap %v) while %d clients call for %v; %s accepts %s\n",
		sys.secret, cfg.Every, sys.kind, cfg.Overlap, cfg.Clients, cfg.Duration, sys.name, sys.accepts(ctx))

	// The clients: each calls without end, reading the credential from the
	// store on every call.
	load, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		wg.Go(func() {
			for load.Err() == nil {
				err := sys.call(load, i)
				switch {
				case load.Err() != nil: // stopped during the call: not counted
				case err != nil:
					calls.failed.Add(1)
					calls.first.CompareAndSwap(nil, &err)
				default:
					calls.ok.Add(1)
				}
				select {
				case <-load.Done():
				case <-time.After(sys.pause):
				}
			}
		})
	}
	select {
	case <-time.After(cfg.Duration):
	case <-ctx.Done():
		fmt.Fprintln(out, "rotation: interrupted")
	}

	// Let the rotation under way end (the clients still calling), then
	// stop the rotator, so that no rotation is left half done; then the
	// clients.
	deadline := time.Now().Add(cfg.Overlap + 30*time.Second)
	for !ev.settled(rot) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	rot.Close()
	stopLoad()
	wg.Wait()

	completed, rolledBack := ev.totals()
	if sys.report != nil {
		fmt.Fprintf(out, "rotation: %s\n", sys.report())
	}
	fmt.Fprintf(out, "rotation: at the end %s accepts %s\n", sys.name, sys.accepts(context.WithoutCancel(ctx)))
	fmt.Fprintf(out, "rotation: %v, %s completed, %d rolled back; %s, %d failed\n", time.Since(start).Round(100*time.Millisecond),
		plural(completed, "rotation"), rolledBack, plural(int(calls.ok.Load()+calls.failed.Load()), "call"), calls.failed.Load())
	switch {
	case calls.failed.Load() > 0:
		return fmt.Errorf("%d of %d calls failed; the first: %v", calls.failed.Load(), calls.ok.Load()+calls.failed.Load(), *calls.first.Load())
	case rolledBack > 0:
		return fmt.Errorf("%d rotations rolled back", rolledBack)
	case completed == 0:
		return fmt.Errorf("no rotation completed in %v: run for longer than -every (%v) plus -overlap (%v)", cfg.Duration, cfg.Every, cfg.Overlap)
	}
	return nil
}

// counts are the clients' calls.
type counts struct {
	ok, failed atomic.Int64
	first      atomic.Pointer[error]
}

// eventPrinter prints the rotator's events, on the rotator's goroutine for
// them.
type eventPrinter struct {
	out   io.Writer
	start time.Time
	sys   *system
	calls *counts

	mu                           sync.Mutex
	started                      map[string]time.Time // rotation id -> its start
	begun, completed, rolledBack int
}

func (p *eventPrinter) print(e rotate.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Dropped > 0 {
		p.line(e, fmt.Sprintf("(%d events were dropped before this one)", e.Dropped))
	}
	ctx := context.Background()
	switch e.Kind {
	case rotate.EventStarted:
		p.begun++
		p.started[e.Rotation] = e.Time
		p.line(e, fmt.Sprintf("rotation %s (%s)", e.Rotation, e.Reason))
	case rotate.EventPromoted:
		p.line(e, fmt.Sprintf("%v after the start; %s accepts %s",
			e.Time.Sub(p.started[e.Rotation]).Round(time.Millisecond), p.sys.name, p.sys.accepts(ctx)))
	case rotate.EventCompleted:
		p.completed++
		p.line(e, fmt.Sprintf("in %v; %s accepts %s  (calls so far: %d ok, %d failed)",
			e.Duration.Round(time.Millisecond), p.sys.name, p.sys.accepts(ctx), p.calls.ok.Load(), p.calls.failed.Load()))
	case rotate.EventRolledBack:
		p.rolledBack++
		p.line(e, fmt.Sprintf("in %v, after step %s failed: %v", e.Duration.Round(time.Millisecond), e.Step, e.Err))
	case rotate.EventStepFailed:
		p.line(e, fmt.Sprintf("step %s: %v", e.Step, e.Err))
	case rotate.EventWaitingForReaders, rotate.EventTakenOver:
		p.line(e, "")
	}
}

func (p *eventPrinter) line(e rotate.Event, detail string) {
	fmt.Fprintf(p.out, "%7.3fs  %-19s %s  %s\n", e.Time.Sub(p.start).Seconds(), e.Kind, e.Secret, detail)
}

// settled reports whether no rotation is under way and every one that
// started has been printed as ended.
func (p *eventPrinter) settled(rot *rotate.Rotator) bool {
	st, err := rot.Status(p.sys.secret)
	if err != nil {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return st.Step == rotate.StepIdle && p.begun == p.completed+p.rolledBack
}

func (p *eventPrinter) totals() (completed, rolledBack int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.completed, p.rolledBack
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
