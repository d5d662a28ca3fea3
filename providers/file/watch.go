package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/strongroom/strongroom/providers"
)

// coalesceDelay is how long the events of a burst in one directory (an
// editor's write, rename and chmod; a Kubernetes volume update) are
// gathered before the watches there are checked. It is counted from the
// first event of the burst, so it bounds the added latency.
const coalesceDelay = 10 * time.Millisecond

// Watch calls changed when the file that ref names may have changed: written
// in place, replaced by a rename, removed, created, or swapped by a
// Kubernetes "..data" symbolic link update. It watches the file's directory
// for events (one watcher per Provider, shared by all watches) and polls
// the file every Options.PollInterval as a fallback; a directory that is
// removed and created again (or did not exist yet) is watched for events
// again at the next poll, and with polling off, not at all. Calls of
// changed run on the Provider's watch goroutine, one at a time, about 10 ms
// after the first event of a burst of events; changed must not
// block, and must not call stop or Close, which wait for a running call of
// changed to return.
//
// The file need not exist when Watch is called. Watch reports an error
// wrapping [providers.ErrInvalidRef] for a malformed reference. Only the
// directory that holds the name in ref is watched: when ref is a symbolic
// link to a file elsewhere, a change made in place to that file is seen by
// polling only.
func (p *Provider) Watch(ctx context.Context, ref string, changed func()) (stop func(), err error) {
	_, loc, err := p.prepare(ctx, "watch", ref)
	if err != nil {
		return nil, err
	}
	if changed == nil {
		return nil, fmt.Errorf("providers/file: watch %q: nil changed func", ref)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, fmt.Errorf("providers/file: watch: %w", providers.ErrClosed)
	}
	if p.hub == nil {
		if p.hub, err = startHub(p); err != nil {
			p.mu.Unlock()
			return nil, err
		}
	}
	h := p.hub
	p.mu.Unlock()

	w := &watch{loc: loc, dir: filepath.Dir(loc.path), base: filepath.Base(loc.path), changed: changed}
	if err := h.add(w); err != nil {
		return nil, err
	}
	return func() {
		w.mu.Lock()
		already := w.stopped
		w.stopped = true
		w.mu.Unlock()
		if !already {
			h.remove(w)
		}
	}, nil
}

// watch is one call of Watch.
type watch struct {
	loc       location
	dir, base string // of loc.path
	changed   func()

	mu      sync.Mutex // held while changed runs
	stopped bool       // guarded by mu

	sig signature // the last one seen; owned by the hub's goroutine once added
}

// fire calls changed unless the watch has been stopped.
func (w *watch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.changed()
	}
}

// hub runs every watch of a Provider: one fsnotify watcher over the
// directories involved, and one goroutine that receives its events, polls,
// and calls the watches back.
type hub struct {
	p    *Provider
	fsw  *fsnotify.Watcher // nil when the system has none left: polling only
	done chan struct{}
	wg   sync.WaitGroup

	// dirMu serialises the fsnotify watcher's Add and Remove calls with
	// the count of watches per directory.
	dirMu sync.Mutex
	dirs  map[string]int // guarded by dirMu

	mu    sync.Mutex
	byDir map[string]map[*watch]struct{} // guarded by mu
}

func startHub(p *Provider) (*hub, error) {
	h := &hub{p: p, done: make(chan struct{}), dirs: make(map[string]int), byDir: make(map[string]map[*watch]struct{})}
	fsw, err := fsnotify.NewWatcher()
	switch {
	case err == nil:
		h.fsw = fsw
	case p.poll < 0:
		return nil, fmt.Errorf("providers/file: watch: no file system events (%w) and polling is off", err)
	default:
		p.log.Warn("providers/file: no file system events; watching by polling only",
			slog.String("error", err.Error()), slog.Duration("interval", p.poll))
	}
	h.wg.Add(1)
	go h.run()
	return h, nil
}

// add registers w, or reports ErrClosed when the hub has stopped.
func (h *hub) add(w *watch) error {
	h.dirMu.Lock()
	if h.dirs[w.dir]++; h.dirs[w.dir] == 1 && h.fsw != nil {
		// A directory that does not exist yet is added at a later poll.
		if err := h.fsw.Add(w.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			h.p.log.Warn("providers/file: cannot watch a directory for events; polling it",
				slog.String("dir", w.dir), slog.String("error", err.Error()))
		}
	}
	h.dirMu.Unlock()
	// The directory is watched before the first signature is taken, so no
	// change falls between the two.
	w.sig = h.p.signature(w.loc)

	h.mu.Lock()
	select {
	case <-h.done:
		h.mu.Unlock()
		h.releaseDir(w.dir)
		return fmt.Errorf("providers/file: watch: %w", providers.ErrClosed)
	default:
	}
	if h.byDir[w.dir] == nil {
		h.byDir[w.dir] = make(map[*watch]struct{})
	}
	h.byDir[w.dir][w] = struct{}{}
	h.mu.Unlock()
	return nil
}

func (h *hub) remove(w *watch) {
	h.mu.Lock()
	delete(h.byDir[w.dir], w)
	if len(h.byDir[w.dir]) == 0 {
		delete(h.byDir, w.dir)
	}
	h.mu.Unlock()
	h.releaseDir(w.dir)
}

// releaseDir forgets one watch in dir, and stops watching dir after the last.
func (h *hub) releaseDir(dir string) {
	h.dirMu.Lock()
	defer h.dirMu.Unlock()
	if h.dirs[dir]--; h.dirs[dir] <= 0 {
		delete(h.dirs, dir)
		if h.fsw != nil {
			_ = h.fsw.Remove(dir) // fails harmlessly when the directory went away
		}
	}
}

// close stops the goroutine, waits for it, and closes the fsnotify watcher.
func (h *hub) close() {
	h.mu.Lock()
	close(h.done)
	h.mu.Unlock()
	h.wg.Wait()
	if h.fsw != nil {
		_ = h.fsw.Close()
	}
}

// run is the hub's goroutine.
func (h *hub) run() {
	defer h.wg.Done()
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
		tick   <-chan time.Time
	)
	if h.fsw != nil {
		events, errs = h.fsw.Events, h.fsw.Errors
	}
	if h.p.poll > 0 {
		t := time.NewTicker(h.p.poll)
		defer t.Stop()
		tick = t.C
	}
	burst := time.NewTimer(coalesceDelay)
	burst.Stop()
	defer burst.Stop()
	// pending maps each directory with events in the current burst to the
	// names that had them.
	pending := make(map[string]map[string]bool)
	for {
		select {
		case <-h.done:
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if len(pending) == 0 {
				burst.Reset(coalesceDelay)
			}
			note(pending, filepath.Dir(ev.Name), filepath.Base(ev.Name))
			note(pending, ev.Name, "") // the event may be about a watched directory itself
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			h.p.log.Warn("providers/file: file system watch error", slog.String("error", err.Error()))
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				h.checkAll()
			}
		case <-burst.C:
			for dir, names := range pending {
				for _, w := range h.watchesIn(dir) {
					h.check(w, names[w.base])
				}
			}
			clear(pending)
		case <-tick:
			h.rewatchDirs()
			h.checkAll()
		}
	}
}

func note(pending map[string]map[string]bool, dir, name string) {
	if pending[dir] == nil {
		pending[dir] = make(map[string]bool)
	}
	if name != "" {
		pending[dir][name] = true
	}
}

// check calls w back when its file's signature changed, or when force is
// set (an event named the file: an in-place rewrite may leave size and
// modification time as they were).
func (h *hub) check(w *watch, force bool) {
	sig := h.p.signature(w.loc)
	if sig != w.sig || force {
		w.sig = sig
		w.fire()
	}
}

func (h *hub) checkAll() {
	for _, w := range h.watchesIn("") {
		h.check(w, false)
	}
}

// watchesIn returns the watches of files in dir, or of all files when dir
// is "".
func (h *hub) watchesIn(dir string) []*watch {
	h.mu.Lock()
	defer h.mu.Unlock()
	var list []*watch
	for d, set := range h.byDir {
		if dir != "" && d != dir {
			continue
		}
		for w := range set {
			list = append(list, w)
		}
	}
	return list
}

// rewatchDirs adds to the fsnotify watcher the directories it dropped
// because they were removed or moved, once they exist again.
func (h *hub) rewatchDirs() {
	if h.fsw == nil {
		return
	}
	h.dirMu.Lock()
	defer h.dirMu.Unlock()
	watched := make(map[string]bool)
	for _, dir := range h.fsw.WatchList() {
		watched[dir] = true
	}
	for dir := range h.dirs {
		if !watched[dir] {
			_ = h.fsw.Add(dir)
		}
	}
}
