package file

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
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

// hub runs every watch of a Provider: one fsnotify watcher over the
// directories involved, and one goroutine that receives its events, polls,
// waits for changes to settle, and calls the watches back.
type hub struct {
	p    *Provider
	fsw  *fsnotify.Watcher // nil when the system has none left: polling only
	done chan struct{}
	wg   sync.WaitGroup

	// mu guards the maps, the watches' chain, dirs and removed fields,
	// and the fsnotify watcher's Add and Remove calls.
	mu    sync.Mutex
	dirs  map[string]int                 // watches per directory
	byDir map[string]map[*watch]struct{} // the watches per directory

	// settling holds the watches whose change has not settled yet. Owned
	// by the hub's goroutine.
	settling map[*watch]struct{}
}

func startHub(p *Provider) (*hub, error) {
	h := &hub{
		p:        p,
		done:     make(chan struct{}),
		dirs:     make(map[string]int),
		byDir:    make(map[string]map[*watch]struct{}),
		settling: make(map[*watch]struct{}),
	}
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
	chain := linkChain(w.loc.path, h.p.rootReal)
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.done:
		return fmt.Errorf("providers/file: watch: %w", providers.ErrClosed)
	default:
	}
	w.chain, w.dirs = chain, chainDirs(chain)
	for _, dir := range w.dirs {
		h.acquireLocked(dir, w)
	}
	// The directories are watched before the first signature is taken,
	// so no change falls between the two.
	w.sig = h.p.signature(w.loc)
	return nil
}

func (h *hub) remove(w *watch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w.removed = true
	for _, dir := range w.dirs {
		h.releaseLocked(dir, w)
	}
}

// relink resolves the links of w again, and watches the directories they
// now lead through.
func (h *hub) relink(w *watch) {
	chain := linkChain(w.loc.path, h.p.rootReal)
	dirs := chainDirs(chain)
	h.mu.Lock()
	defer h.mu.Unlock()
	if w.removed {
		return
	}
	for _, dir := range dirs {
		if !slices.Contains(w.dirs, dir) {
			h.acquireLocked(dir, w)
		}
	}
	for _, dir := range w.dirs {
		if !slices.Contains(dirs, dir) {
			h.releaseLocked(dir, w)
		}
	}
	w.chain, w.dirs = chain, dirs
}

// acquireLocked notes that w watches dir, and starts watching dir for
// events with the first watch. A directory that does not exist yet is
// added at a later poll.
func (h *hub) acquireLocked(dir string, w *watch) {
	if h.byDir[dir] == nil {
		h.byDir[dir] = make(map[*watch]struct{})
	}
	h.byDir[dir][w] = struct{}{}
	if h.dirs[dir]++; h.dirs[dir] == 1 && h.fsw != nil {
		if err := h.fsw.Add(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			h.p.log.Warn("providers/file: cannot watch a directory for events; polling it",
				slog.String("dir", dir), slog.String("error", err.Error()))
		}
	}
}

// releaseLocked forgets that w watches dir, and stops watching dir after
// the last watch.
func (h *hub) releaseLocked(dir string, w *watch) {
	if delete(h.byDir[dir], w); len(h.byDir[dir]) == 0 {
		delete(h.byDir, dir)
	}
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
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
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
			continue
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			h.p.log.Warn("providers/file: file system watch error", slog.String("error", err.Error()))
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				continue
			}
			h.checkAll()
		case <-burst.C:
			h.checkPending(pending)
			clear(pending)
		case <-settle.C:
			now := time.Now()
			for w := range h.settling {
				if !now.Before(w.due) {
					h.advance(w, now)
				}
			}
		case <-tick:
			h.rewatchDirs()
			h.checkAll()
		}
		h.armSettle(settle)
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

// checkPending checks the watches of the directories that had events: a
// watch whose file, or a link on the way to it, had one is treated as
// changed even if its signature is the same (an in-place rewrite may
// leave size and modification time as they were).
func (h *hub) checkPending(pending map[string]map[string]bool) {
	touched := make(map[*watch]bool)
	for dir, names := range pending {
		for _, w := range h.watchesIn(dir) {
			touched[w] = touched[w] || w.named(dir, names)
		}
	}
	for w, force := range touched {
		h.relink(w)
		h.notice(w, force)
	}
}

func (h *hub) checkAll() {
	for _, w := range h.watchesIn("") {
		h.relink(w)
		h.notice(w, false)
	}
}

// notice starts w settling when its file's signature changed, or when
// force is set.
func (h *hub) notice(w *watch, force bool) {
	now := time.Now()
	if !w.settling {
		if !force && h.p.signature(w.loc) == w.sig {
			return
		}
		w.settling, w.since, w.obs = true, now, observation{}
	}
	w.force = w.force || force
	h.advance(w, now)
}

// advance looks at the file of a settling watch, and calls it back once
// the file has settled, or has kept changing for settleLimit.
func (h *hub) advance(w *watch, now time.Time) {
	wait := h.p.observe(w.loc, &w.obs, now)
	if wait > 0 && now.Sub(w.since) < settleLimit(h.p.settle) {
		w.due = now.Add(wait)
		h.settling[w] = struct{}{}
		return
	}
	delete(h.settling, w)
	w.settling = false
	if w.obs.sig != w.sig || w.force {
		w.sig, w.force = w.obs.sig, false
		w.fire()
	}
}

// armSettle sets t to fire when the first settling watch is due, and
// drops the watches stopped since.
func (h *hub) armSettle(t *time.Timer) {
	var first time.Time
	for w := range h.settling {
		if w.isStopped() {
			delete(h.settling, w)
			continue
		}
		if first.IsZero() || w.due.Before(first) {
			first = w.due
		}
	}
	if first.IsZero() {
		t.Stop()
		return
	}
	t.Reset(max(time.Until(first), 0))
}

func (w *watch) isStopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

// watchesIn returns the watches that depend on entries of dir, or all
// watches when dir is "".
func (h *hub) watchesIn(dir string) []*watch {
	h.mu.Lock()
	defer h.mu.Unlock()
	if dir != "" {
		list := make([]*watch, 0, len(h.byDir[dir]))
		for w := range h.byDir[dir] {
			list = append(list, w)
		}
		return list
	}
	seen := make(map[*watch]bool)
	var list []*watch
	for _, set := range h.byDir {
		for w := range set {
			if !seen[w] {
				seen[w] = true
				list = append(list, w)
			}
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
	h.mu.Lock()
	defer h.mu.Unlock()
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
