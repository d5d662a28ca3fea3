package secrets

import (
	"fmt"
	"time"
)

// EventKind says what happened to a secret.
type EventKind int

// Kinds of event.
const (
	_ EventKind = iota
	// EventLoaded: the first value was loaded.
	EventLoaded
	// EventRotated: a new value (or a new expiry) replaced the current one;
	// Event.PreviousVersion is the old version.
	EventRotated
	// EventRefreshFailed: a fetch failed; the last good value stays.
	EventRefreshFailed
	// EventRejected: a fetched value failed validation; the last good
	// value stays.
	EventRejected
	// EventStale: refreshes have failed for longer than Spec.MaxStale;
	// reads fail with ErrStale until one succeeds.
	EventStale
	// EventExpired: the current value passed its expiry; reads fail with
	// ErrExpired until a refresh succeeds.
	EventExpired
	// EventRevoked: the secret was revoked and wiped.
	EventRevoked
	// EventDeleted: the secret was deleted and wiped.
	EventDeleted
)

var eventNames = [...]string{"", "loaded", "rotated", "refresh_failed", "rejected", "stale", "expired", "revoked", "deleted"}

// String returns the kind's name, as in the constants' comments:
// "loaded", "rotated", "refresh_failed", ...
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// MarshalText encodes the kind's name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event tells a subscriber what happened to a secret. It carries metadata,
// never the value.
type Event struct {
	Kind            EventKind
	Secret          string    // the secret's name
	Version         string    // the version concerned (the new one for EventRotated)
	PreviousVersion string    // EventRotated: the version replaced
	ExpiresAt       time.Time // expiry of Version; zero if none
	Time            time.Time // when it happened, by the Store's clock
	Err             error     // why, for failures, rejections and staleness
	// Dropped counts the events that happened after this one but were
	// not delivered to this subscriber because its queue
	// (Options.EventBuffer) was full.
	Dropped int
}

// String describes the event in one line.
func (e Event) String() string {
	s := e.Kind.String() + " " + e.Secret
	switch {
	case e.Kind == EventRotated:
		s += " " + e.PreviousVersion + " -> " + e.Version
	case e.Version != "":
		s += " " + e.Version
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Subscribe calls fn for every event of the secrets whose names match
// pattern ('*' matches any run of characters, '?' any one; "*" or "" for
// all), in the order the events
// happened. Each subscriber has its own goroutine and queue, so a slow fn
// delays only its own later events and never the refresh engine or another
// subscriber. cancel stops deliveries: after it returns, fn is called at
// most once more (a call already under way). fn must not call Close, which
// waits for it. Subscribe fails with
// ErrInvalid for a malformed pattern and ErrClosed after Close.
func (s *Store) Subscribe(pattern string, fn func(Event)) (cancel func(), err error) {
	match, err := matcher(pattern)
	if err != nil {
		return nil, err
	}
	return s.subscribe(func(name string) bool { return match(name) }, fn)
}

// subscribe registers fn for the events of the secrets match accepts.
func (s *Store) subscribe(match func(name string) bool, fn func(Event)) (func(), error) {
	cancel, ok := s.hub.Subscribe(func(e Event) bool { return match(e.Secret) }, fn)
	if !ok {
		return nil, newError("subscribe", "", ErrClosed, nil)
	}
	return cancel, nil
}

// matcher checks a subscription pattern and returns its test.
func matcher(pattern string) (func(name string) bool, error) {
	if pattern == "" {
		pattern = "*"
	}
	if err := checkPattern(pattern); err != nil {
		return nil, newError("subscribe", "", ErrInvalid, err)
	}
	return func(name string) bool { return match(pattern, name) }, nil
}
