package secrets

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/strongroom/strongroom/internal/redact"
)

// State is where a secret stands, as the inventory reports it.
type State int

// States.
const (
	// StatePending: declared, no value loaded yet.
	StatePending State = iota
	// StateActive: a value is served and the last refresh succeeded.
	StateActive
	// StateFailing: refreshes fail; the last good value is still served.
	StateFailing
	// StateStale: refreshes have failed past Spec.MaxStale; reads fail.
	StateStale
	// StateExpired: the value is past its expiry; reads fail.
	StateExpired
	// StateRevoked: ended by Revoke.
	StateRevoked
	// StateDeleted: ended by Forget or Delete.
	StateDeleted
	// StateClosed: the Store is closed.
	StateClosed
)

var stateNames = [...]string{"pending", "active", "failing", "stale", "expired", "revoked", "deleted", "closed"}

// String returns the state's name: "pending", "active", "failing", ...
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText encodes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Metadata describes one secret for discovery, audit and monitoring. It
// never holds the value. Times are zero when they have not happened.
type Metadata struct {
	Name   string
	Ref    string // with any credential in the reference redacted
	Source string // the provider's scheme; "generated" for Create without a Ref
	// Owner and Classification are the Spec's, or when it gives none the
	// current version's backend labels "owner" and "classification"
	// (providers.Value.Labels: AWS tags, say).
	Owner          string
	Kind           Kind
	Classification Classification
	// Labels are the current version's backend labels, with the Spec's
	// Labels over them (the Spec's win).
	Labels map[string]string
	State  State
	// Details are what Spec.Describe said of the current version.
	Details map[string]string

	Version         string
	PreviousVersion string    // while its overlap window lasts
	CreatedAt       time.Time // when the backend made the current version
	LoadedAt        time.Time // first value
	RefreshedAt     time.Time // last successful fetch
	RotatedAt       time.Time
	Rotations       int
	ExpiresAt       time.Time
	NextRefresh     time.Time

	LastError   string // the last failure, also after a later success
	LastErrorAt time.Time
	FailingFor  time.Duration // how long refreshes have been failing; 0 when healthy

	Reads   uint64            // every read, through the Store or a View
	ReadsBy map[string]uint64 // reads through each View, by consumer
	// LastRead is when the secret was last read, to within a minute (a
	// read records the time only once a minute, to keep reads cheap).
	LastRead time.Time
	// PreviousReads counts the uses of a replaced version (a handle taken
	// before the latest rotation, or one from Store.Previous) since that
	// rotation, in this process; PreviousLastRead is when the latest was.
	// A rotation retires the old credential once they stop.
	PreviousReads    uint64
	PreviousLastRead time.Time

	// Annotations are what the functions given to Store.Annotate for this
	// secret said when the metadata was taken (package rotate reports a
	// rotation's policy, next due time and last outcome so).
	Annotations map[string]string

	// Unused: not read for Options.UnusedAfter: a candidate for retirement.
	Unused bool
	// Expiring: less than a third of the lifetime, or less than
	// Options.ExpiryWarning, is left.
	Expiring bool
	// LockedMemory is false when the Store runs with unlocked scratch
	// memory (Options.AllowUnlockedMemory).
	LockedMemory bool
	// EndedAt: when the secret was revoked or deleted.
	EndedAt time.Time
}

// Annotate adds fn to the functions whose maps make up the Annotations of
// the secret called name (declared or not yet) in Metadata and Inventory,
// until remove is called. fn is called each time metadata is taken,
// without any lock of the Store held; it must be quick, safe for
// concurrent use, and never return secret material. Later functions'
// keys win.
func (s *Store) Annotate(name string, fn func() map[string]string) (remove func()) {
	a := &annotator{fn: fn}
	s.annotMu.Lock()
	if s.annots == nil {
		s.annots = map[string][]*annotator{}
	}
	s.annots[name] = append(s.annots[name], a)
	s.annotMu.Unlock()
	return func() {
		s.annotMu.Lock()
		defer s.annotMu.Unlock()
		s.annots[name] = slices.DeleteFunc(s.annots[name], func(b *annotator) bool { return b == a })
		if len(s.annots[name]) == 0 {
			delete(s.annots, name)
		}
	}
}

type annotator struct{ fn func() map[string]string }

// annotations calls the annotators of name; nil when it has none.
func (s *Store) annotations(name string) map[string]string {
	s.annotMu.Lock()
	fns := slices.Clone(s.annots[name])
	s.annotMu.Unlock()
	var out map[string]string
	for _, a := range fns {
		for k, v := range a.fn() {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// Inventory returns the metadata of every declared secret, sorted by name,
// including revoked and deleted ones. It never returns a value.
func (s *Store) Inventory() []Metadata {
	now := s.clock.Now()
	es := s.snapshot()
	s.tally.Flush()
	out := make([]Metadata, 0, len(es))
	for _, e := range es {
		out = append(out, e.metadata(now))
	}
	return out
}

// Metadata returns the metadata of the secret called name.
func (s *Store) Metadata(name string) (Metadata, error) {
	e, err := s.lookup("metadata", name)
	if err != nil {
		return Metadata{}, err
	}
	s.tally.Flush()
	return e.metadata(s.clock.Now()), nil
}

func (e *entry) metadata(now time.Time) Metadata {
	o := &e.s.opts
	m := Metadata{
		Name: e.name, Ref: redact.Ref(e.ref), Source: e.source(), Owner: e.spec.Owner,
		Kind: e.spec.Kind, Classification: e.spec.Classification, Labels: maps.Clone(e.spec.Labels),
		Reads: e.reads.Load(), LockedMemory: e.s.guard.Locked(),
	}
	if lr := e.lastRead.Load(); lr != 0 {
		m.LastRead = time.Unix(0, lr)
	}
	m.PreviousReads = e.oldReads.Load()
	if lr := e.oldLastRead.Load(); lr != 0 {
		m.PreviousLastRead = time.Unix(0, lr)
	}
	m.Annotations = e.s.annotations(e.name)
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.cur.Load()
	if cur != nil {
		m.Version, m.ExpiresAt, m.CreatedAt = cur.version, cur.expiresAt, cur.createdAt
		m.Details = maps.Clone(cur.details())
		if labels := cur.labels(); len(labels) > 0 {
			m.Labels = maps.Clone(labels)
			maps.Copy(m.Labels, e.spec.Labels)
			if m.Owner == "" {
				m.Owner = labels["owner"]
			}
			if m.Classification == "" {
				m.Classification = Classification(labels["classification"])
			}
		}
	}
	if e.prev != nil && now.Before(e.prevUntil) {
		m.PreviousVersion = e.prev.version
	}
	m.LoadedAt, m.RefreshedAt, m.RotatedAt, m.Rotations = e.loadedAt, e.refreshedAt, e.rotatedAt, e.rotations
	m.NextRefresh, m.EndedAt = e.nextRefresh, e.endedAt
	if e.lastErr != nil {
		m.LastError, m.LastErrorAt = e.lastErr.Error(), e.lastErrAt
	}
	if !e.failingSince.IsZero() {
		m.FailingFor = now.Sub(e.failingSince)
	}
	if len(e.readsBy) > 0 {
		m.ReadsBy = make(map[string]uint64, len(e.readsBy))
		for c, n := range e.readsBy {
			m.ReadsBy[c] = n.Load()
		}
	}
	m.State = e.state(now, cur)
	if o.UnusedAfter > 0 && cur != nil {
		since := m.LastRead
		if since.IsZero() {
			since = e.loadedAt
		}
		m.Unused = now.Sub(since) >= o.UnusedAfter
	}
	if cur != nil && !cur.expiresAt.IsZero() {
		left := cur.expiresAt.Sub(now)
		born := cur.createdAt
		if loaded := cur.LoadedAt(); born.IsZero() || born.After(loaded) {
			born = loaded
		}
		m.Expiring = left < cur.expiresAt.Sub(born)/3 || left < o.ExpiryWarning
	}
	return m
}

// state derives the State. e.mu is held.
func (e *entry) state(now time.Time, cur *Secret) State {
	switch e.life {
	case lifeRevoked:
		return StateRevoked
	case lifeDeleted:
		return StateDeleted
	case lifeClosed:
		return StateClosed
	}
	switch {
	case cur == nil:
		return StatePending
	case !cur.expiresAt.IsZero() && !now.Before(cur.expiresAt):
		return StateExpired
	case e.staleAt.Load() != 0 && now.UnixNano() >= e.staleAt.Load():
		return StateStale
	case !e.failingSince.IsZero():
		return StateFailing
	}
	return StateActive
}

// Health returns nil when every secret can be served, and otherwise a
// *HealthError naming each secret that cannot: stale (staleness budget
// spent), expired, or never loaded because every attempt failed. Revoked
// and deleted secrets do not count.
func (s *Store) Health() error {
	if s.closed.Load() {
		return newError("health", "", ErrClosed, nil)
	}
	now := s.clock.Now()
	var h HealthError
	for _, e := range s.snapshot() {
		e.mu.Lock()
		cur := e.cur.Load()
		var err error
		switch e.state(now, cur) {
		case StateStale:
			err = e.staleError("health", now)
		case StateExpired:
			err = newError("health", e.name, ErrExpired, fmt.Errorf("version %s expired at %s", cur.version, cur.expiresAt.UTC().Format(time.RFC3339)))
		case StatePending:
			if e.lastErr != nil {
				err = e.lastErr
			}
		}
		e.mu.Unlock()
		if err != nil {
			h.Problems = append(h.Problems, Problem{Secret: e.name, Err: err})
		}
	}
	if len(h.Problems) == 0 {
		return nil
	}
	return &h
}

// HealthError lists the secrets that cannot be served. errors.Is matches
// the sentinel of any problem (ErrStale, ErrExpired, ...).
type HealthError struct {
	Problems []Problem
}

// Problem is one secret that cannot be served, and why.
type Problem struct {
	Secret string
	Err    error
}

// Error lists every problem.
func (h *HealthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "secrets: unhealthy: %d secret(s) cannot be served", len(h.Problems))
	for _, p := range h.Problems {
		b.WriteString("; ")
		b.WriteString(p.Err.Error())
	}
	return b.String()
}

// Unwrap returns each problem's error.
func (h *HealthError) Unwrap() []error {
	errs := make([]error, len(h.Problems))
	for i, p := range h.Problems {
		errs[i] = p.Err
	}
	return errs
}
