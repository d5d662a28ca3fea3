package file

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// Watch calls changed when the file that ref names may have changed, once
// the change has settled (see [Options].Settle): written in place,
// replaced by a rename, removed, created, or swapped by a Kubernetes
// "..data" symbolic link update. It watches for file system events (one
// watcher per Provider, shared by all watches) the directory of the name
// in ref and, when that name is a symbolic link, the directories of every
// link on the way and of the file the links lead to (certbot's live/
// links into archive/): a file behind a link rewritten in place is seen
// at once. The links are resolved again after each event in those
// directories and at each poll. Inside [Options].Root, only directories
// inside it are watched.
//
// Watch also polls the file every Options.PollInterval as a fallback; a
// directory that is removed and created again (or did not exist yet) is
// watched for events again at the next poll, and with polling off, not
// at all. Calls of changed run on the Provider's watch goroutine, one at a
// time, about 10 ms after the first event of a burst of events, and later
// when the file has not settled yet; changed must not block, and must not
// call stop or Close, which wait for a running call of changed to return.
//
// The file need not exist when Watch is called. Watch reports an error
// wrapping [providers.ErrInvalidRef] for a malformed reference.
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

	w := &watch{loc: loc, changed: changed}
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
	loc     location
	changed func()

	mu      sync.Mutex // held while changed runs
	stopped bool       // guarded by mu

	// Guarded by hub.mu, and written by the hub's goroutine only once the
	// watch is added, so that goroutine reads them without the lock.
	chain   []dirEntry // what the watch depends on; see linkChain
	dirs    []string   // the directories of chain, registered with the hub
	removed bool

	// Owned by the hub's goroutine once the watch is added.
	sig      signature   // the state last signalled, or first seen
	settling bool        // a change was noticed and has not settled yet
	force    bool        // an event named the file while it settled
	since    time.Time   // when settling began
	obs      observation // the state while settling
	due      time.Time   // when to look again while settling
}

// fire calls changed unless the watch has been stopped.
func (w *watch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.changed()
	}
}

// named reports whether names, the names in dir that had events, include
// one the watch depends on.
func (w *watch) named(dir string, names map[string]bool) bool {
	for _, e := range w.chain {
		if e.dir == dir && names[e.name] {
			return true
		}
	}
	return false
}
