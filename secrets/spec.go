package secrets

import (
	"fmt"
	"maps"
	"time"

	"github.com/strongroom/strongroom/internal/redact"
	"github.com/strongroom/strongroom/providers"
)

// Kind says what a secret is. It drives defaults and inventory only; the
// value is bytes whatever the kind.
type Kind int

// Kinds of secret.
const (
	KindGeneric Kind = iota
	KindPassword
	KindToken
	KindCertificate
	KindKey
)

var kindNames = [...]string{"generic", "password", "token", "certificate", "key"}

// String returns the kind's name: "generic", "password", "token",
// "certificate" or "key".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText encodes the kind's name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Classification is the sensitivity label of a secret, for inventory and
// audit ("public", "internal", "confidential", "restricted", or the
// organisation's own words).
type Classification string

// Common classifications.
const (
	Public       Classification = "public"
	Internal     Classification = "internal"
	Confidential Classification = "confidential"
	Restricted   Classification = "restricted"
)

// Spec declares one secret.
type Spec struct {
	// Name identifies the secret in the Store, in logs, events, metrics
	// and the inventory. Required: 1 to 200 characters from letters,
	// digits and "-_./:@".
	Name string

	// Ref locates the value: "scheme:..." where the scheme picks the
	// provider (for example "file:///run/secrets/db", "env://API_KEY",
	// "memory://db"). Required by Add; optional for Create, where empty
	// means the value lives only in this process.
	Ref string

	// Kind says what the secret is. Zero: KindGeneric.
	Kind Kind

	// Owner names the team or service responsible for the secret (inventory only).
	Owner string

	// Classification labels the secret's sensitivity (inventory only).
	// Zero: none.
	Classification Classification

	// Labels are free-form metadata for the inventory (never values).
	Labels map[string]string

	// Refresh says when to fetch the value again. Zero value: see
	// RefreshPolicy's fields.
	Refresh RefreshPolicy

	// MaxStale is the staleness budget: once a refresh is due (its
	// scheduled time, or when a change was signalled or a refresh asked
	// for), the last good value is served for at most this long without a
	// successful refresh (and never past its own expiry); then reads,
	// handles already held included, fail with ErrStale until a refresh
	// succeeds. The budget runs while a fetch hangs, not from when it
	// fails. Zero: no budget; the last good value is served until it
	// expires.
	MaxStale time.Duration

	// AllowEmpty accepts an empty value. Zero: an empty value is rejected
	// (ErrInvalid, the old value kept), since a backend that serves one is
	// far more often half-way through a rewrite than meaning it.
	AllowEmpty bool

	// Overlap is how long the previous version stays readable (through
	// Store.Previous and handles already held) after a rotation, so that a
	// program can still verify with an old key; then it is wiped, or
	// sooner if another rotation replaces it (one previous version is
	// kept). Zero: DefaultOverlap, long enough for reads already under way
	// to finish. Negative: wiped at once (a Use already under way still
	// completes).
	Overlap time.Duration

	// Validate, if set, vets every new value before it replaces the
	// current one. A non-nil error rejects the value: the old one stays in
	// service and an EventRejected is published. Return [InvalidValue] to
	// give a reason that errors, events and logs may show; the message of
	// any other error is withheld (it stays in the chain for errors.Is),
	// since it might quote the value. Validate must not keep or copy data,
	// nor call Store.Close. It runs on the refresh goroutine (or Create's
	// caller), one call at a time per secret; a panic in it is a rejection.
	Validate func(data []byte) error

	// Expiry, if set, derives a value's expiry from the value itself when
	// the backend gives none (a certificate's NotAfter, a JWT's exp), so
	// that refresh ahead of expiry, ErrExpired and the inventory work for
	// it. It runs after Validate, under the same rules; an error rejects
	// the value.
	Expiry func(data []byte) (time.Time, error)

	// Describe, if set, returns public facts about a value (a
	// certificate's subject and fingerprint, a key's algorithm) for the
	// inventory (Metadata.Details) and Secret.Details. It must never
	// return the value or anything derived from it that is secret. It
	// runs after Validate and Expiry.
	Describe func(data []byte) map[string]string
}

// DefaultOverlap is the overlap used when Spec.Overlap is zero.
const DefaultOverlap = 5 * time.Second

// RefreshPolicy says when a secret is fetched again. Every field's zero
// value selects a documented default.
type RefreshPolicy struct {
	// Interval polls the backend this often. Zero: no polling; the value
	// is fetched again only ahead of its expiry, when its provider signals
	// a change (providers.Watcher), or on Store.Refresh.
	Interval time.Duration

	// Ahead is the fraction of a value's lifetime (from when it was
	// fetched to its expiry) after which it is refreshed. Zero: 2/3.
	// Must be in (0, 1].
	Ahead float64

	// Jitter is the fraction of the lifetime (or of Interval) by which a
	// refresh is brought forward at random, so that many processes do not
	// refresh together. Zero: 0.1. Negative: no jitter. Must be below 1.
	Jitter float64

	// MinBackoff and MaxBackoff bound the wait after a failed fetch:
	// exponential from MinBackoff, doubling per consecutive failure,
	// capped at MaxBackoff, with full jitter (a uniform draw between 0
	// and that bound, but at least MinBackoff/10). Zero: 1 s and 300 s.
	MinBackoff, MaxBackoff time.Duration

	// Timeout bounds one fetch. Zero: 30 s.
	Timeout time.Duration
}

// Defaults for RefreshPolicy.
const (
	DefaultAhead      = 2.0 / 3
	DefaultJitter     = 0.1
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 300 * time.Second
	DefaultTimeout    = 30 * time.Second
)

// normalize checks s and fills in defaults, returning a copy. requireRef
// is false for Create.
func (s Spec) normalize(requireRef bool, provs map[string]providers.Provider) (Spec, providers.Provider, error) {
	bad := func(format string, args ...any) error {
		return newError("declare", s.Name, ErrInvalid, fmt.Errorf(format, args...))
	}
	if err := checkName(s.Name); err != nil {
		return s, nil, newError("declare", "", ErrInvalid, err)
	}
	var p providers.Provider
	if s.Ref != "" || requireRef {
		scheme := providers.Scheme(s.Ref)
		if scheme == "" {
			return s, nil, bad("reference %q has no scheme (want scheme:...)", redact.Ref(s.Ref))
		}
		if p = provs[scheme]; p == nil {
			return s, nil, bad("no provider for scheme %q", scheme)
		}
	}
	r := &s.Refresh
	switch {
	case r.Interval < 0 || s.MaxStale < 0 || r.MinBackoff < 0 || r.MaxBackoff < 0 || r.Timeout < 0:
		return s, nil, bad("negative duration in spec")
	case r.Ahead < 0 || r.Ahead > 1:
		return s, nil, bad("Refresh.Ahead %v outside (0, 1]", r.Ahead)
	case r.Jitter >= 1:
		return s, nil, bad("Refresh.Jitter %v outside [0, 1)", r.Jitter)
	}
	if r.Ahead == 0 {
		r.Ahead = DefaultAhead
	}
	if r.Jitter == 0 {
		r.Jitter = DefaultJitter
	} else if r.Jitter < 0 {
		r.Jitter = 0
	}
	if r.MinBackoff == 0 {
		r.MinBackoff = DefaultMinBackoff
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	if r.MaxBackoff < r.MinBackoff {
		return s, nil, bad("Refresh.MaxBackoff %v below MinBackoff %v", r.MaxBackoff, r.MinBackoff)
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	if s.Overlap == 0 {
		s.Overlap = DefaultOverlap
	}
	s.Labels = maps.Clone(s.Labels)
	return s, p, nil
}

func checkName(name string) error {
	if name == "" || len(name) > 200 {
		return fmt.Errorf("secret name must be 1 to 200 characters, not %d", len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		switch c {
		case '-', '_', '.', '/', ':', '@':
			continue
		}
		return fmt.Errorf("secret name has a character outside letters, digits and -_./:@ at byte %d", i)
	}
	return nil
}
