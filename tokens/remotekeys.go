package tokens

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"

	"github.com/strongroom/strongroom/internal/redact"
	"github.com/strongroom/strongroom/secrets"
)

// RemoteKeysOptions configure a [RemoteKeys]. A nil *RemoteKeysOptions means the defaults;
// every field's zero value selects the default its comment states.
type RemoteKeysOptions struct {
	// HTTPClient fetches the set. Nil: a pooled client with a 10 s
	// timeout, whose idle connections Close closes. Whatever the client,
	// a background fetch (see MaxAge) is given up after 30 s and counts
	// as a failed one; a fetch a lookup waits for is bounded by the
	// lookup's context.
	HTTPClient *http.Client

	// MinInterval is the least time between two fetches caused by
	// unknown kids (but see RefetchAge), so that a flood of forged kids
	// costs the JWKS server few requests; failed fetches, whatever caused
	// them, are spaced the same way. Zero: 1 min.
	MinInterval time.Duration

	// RefetchAge bounds how long forged kids can hold off a key rotation:
	// an unknown kid fetches the set whenever the set held is older than
	// this, even within MinInterval of the last fetch an unknown kid
	// caused. Otherwise a forged kid once a MinInterval would keep every
	// verifier refusing the first tokens of a newly published key for up
	// to MinInterval. The price: a flood of forged kids costs the JWKS
	// server one request per RefetchAge. Zero: 10 s. Negative: none
	// (MinInterval alone).
	RefetchAge time.Duration

	// MaxAge is how long a fetched set is used before it is fetched again.
	// A lookup of a known kid in an older set does not wait: it is served
	// from that set while one fetch runs in the background. Zero: 1 h.
	MaxAge time.Duration

	// MaxStale is how long after the last successful fetch the keys of a
	// set that could not be refreshed are still trusted. Past it, lookups
	// wait for a fetch (at most one per MinInterval while they fail) and
	// fail while none succeeds: a key the issuer withdrew is not trusted
	// forever because its JWKS server is down. Zero: 24 h. It is raised to
	// MaxAge if below.
	MaxStale time.Duration

	// Clock times all of these. Nil: the wall clock.
	Clock secrets.Clock
}

// RemoteKeys is a [KeySet] fetched from a JWKS URL (such as an OAuth 2.0
// server's /.well-known/jwks.json). It fetches on first use, in the
// background once the set is older than MaxAge (serving the set held
// meanwhile), and when asked for an unknown kid, at most once per
// MinInterval unless the set is older than RefetchAge (see [RemoteKeys.Key]).
// Fetches are one at a time; a lookup that needs one waits for the one
// under way, if any, no longer than its context allows. Only public
// signing keys are kept: symmetric ("oct") keys, keys marked for
// encryption and RSA keys under 2048 bits are ignored; a key's declared
// "alg" is the only algorithm a [Verifier] accepts with it. It is safe
// for concurrent use; Close stops its background fetch.
type RemoteKeys struct {
	url   string
	shown string // url for messages
	opts  RemoteKeysOptions
	hc    *http.Client
	ownHC bool
	clock secrets.Clock

	fetching chan struct{} // one fetch at a time: holds a token while one runs

	mu        sync.Mutex
	keys      map[string]jwkEntry
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt
	kidAt     time.Time // last attempt an unknown kid caused
	tries     uint64    // attempts, to tell whether another caller fetched
	lastErr   error
	closed    bool
	bgCancel  context.CancelFunc // the background fetch under way; nil if none
	wg        sync.WaitGroup     // the background fetch
}

// NewRemoteKeys returns a RemoteKeys for the set at rawURL. It fails with ErrInvalid
// for a URL that is not http(s) or that holds credentials (user
// information; errors show the URL with them withheld). It makes no
// request.
func NewRemoteKeys(rawURL string, opts *RemoteKeysOptions) (*RemoteKeys, error) {
	if err := checkURL(rawURL); err != nil {
		return nil, newError("new jwks", ErrInvalid, err)
	}
	u, _ := url.Parse(rawURL)
	j := &RemoteKeys{url: rawURL, shown: redact.URL(u), fetching: make(chan struct{}, 1)}
	if opts != nil {
		j.opts = *opts
	}
	setDefault(&j.opts.MinInterval, time.Minute)
	setDefault(&j.opts.MaxAge, time.Hour)
	setDefault(&j.opts.MaxStale, 24*time.Hour)
	j.opts.MaxStale = max(j.opts.MaxStale, j.opts.MaxAge)
	switch {
	case j.opts.RefetchAge == 0:
		j.opts.RefetchAge = 10 * time.Second
	case j.opts.RefetchAge < 0:
		j.opts.RefetchAge = -1
	}
	if j.hc = j.opts.HTTPClient; j.hc == nil {
		j.hc = cleanhttp.DefaultPooledClient()
		j.hc.Timeout = 10 * time.Second
		j.ownHC = true
	}
	if j.clock = j.opts.Clock; j.clock == nil {
		j.clock = secrets.WallClock{}
	}
	return j, nil
}

// Key returns the key with ID kid. A known kid never waits: when the set
// is older than MaxAge, the key is served from it and one fetch starts in
// the background. A lookup waits for a fetch only when there is no set
// yet, when the set is older than MaxStale (its keys are no longer
// trusted), or when kid is unknown: then, unless the last fetch an unknown
// kid caused is less than MinInterval old and the set less than
// RefetchAge old, it fetches the set and looks again; otherwise it fails
// at once with an error matching ErrUnknownKey. So the first token signed
// with a newly rotated key causes a fetch at once, and a flood of forged
// kids at most one fetch per RefetchAge. After a failed fetch, no fetch
// is made for MinInterval. A lookup that waits for a fetch (its own or
// one under way) fails with its context's error when that ends first. It
// fails with ErrClosed after Close.
func (j *RemoteKeys) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	k, err := j.lookup(ctx, kid)
	return k.pub, err
}

// keyAlg is Key with the key's declared algorithm ("" if none).
func (j *RemoteKeys) keyAlg(ctx context.Context, kid string) (crypto.PublicKey, string, error) {
	k, err := j.lookup(ctx, kid)
	return k.pub, k.alg, err
}

func (j *RemoteKeys) lookup(ctx context.Context, kid string) (jwkEntry, error) {
	for attempt := 0; ; attempt++ {
		now := j.clock.Now()
		j.mu.Lock()
		if j.closed {
			j.mu.Unlock()
			return jwkEntry{}, newError("key", ErrClosed, nil)
		}
		keys, fetchedAt, triedAt, kidAt, tries, lastErr := j.keys, j.fetchedAt, j.triedAt, j.kidAt, j.tries, j.lastErr
		age := now.Sub(fetchedAt)
		failing := lastErr != nil && now.Sub(triedAt) < j.opts.MinInterval
		trusted := keys != nil && age < j.opts.MaxStale
		k, known := keys[kid]
		if known && trusted {
			if age >= j.opts.MaxAge && !failing {
				j.background(tries)
			}
			j.mu.Unlock()
			return k, nil
		}
		j.mu.Unlock()
		limited := trusted && !kidAt.IsZero() && now.Sub(kidAt) < j.opts.MinInterval &&
			(j.opts.RefetchAge < 0 || age < j.opts.RefetchAge)
		if attempt > 0 || failing || limited {
			switch {
			case keys == nil && lastErr != nil:
				return jwkEntry{}, lastErr
			case keys != nil && !trusted:
				return jwkEntry{}, newError("key", nil, fmt.Errorf("the JWKS fetched at %s is older than MaxStale (%s) and could not be refreshed: %w",
					fetchedAt.UTC().Format(time.RFC3339), j.opts.MaxStale, lastErr))
			}
			return jwkEntry{}, newError("key", ErrUnknownKey, fmt.Errorf("kid %q is not in the JWKS fetched at %s",
				redact.Printable(kid, 64), fetchedAt.UTC().Format(time.RFC3339)))
		}
		if err := j.fetch(ctx, tries, trusted); err != nil {
			return jwkEntry{}, newError("key", nil, err)
		}
	}
}

// backgroundFetchTimeout bounds a RemoteKeys's background fetch, whatever its
// HTTP client: a server that hangs holds up no lookup longer than its own
// context allows, and a background fetch no longer than this.
var backgroundFetchTimeout = 30 * time.Second

// errBackgroundTimeout is the cause of a background fetch's timeout: a
// failure of the server, unlike Close cancelling it.
var errBackgroundTimeout = errors.New("tokens: background JWKS fetch timed out")

// background starts a fetch of its own, unless one is under way or the
// RemoteKeys is closed. j.mu is held.
func (j *RemoteKeys) background(seen uint64) {
	if j.bgCancel != nil || j.closed {
		return
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), backgroundFetchTimeout, errBackgroundTimeout)
	j.bgCancel = cancel
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		j.fetch(ctx, seen, false)
		j.mu.Lock()
		j.bgCancel = nil
		j.mu.Unlock()
		cancel()
	}()
}

// Refresh fetches the set now, whatever the rate limit.
func (j *RemoteKeys) Refresh(ctx context.Context) error {
	j.mu.Lock()
	tries, closed := j.tries, j.closed
	j.mu.Unlock()
	if closed {
		return newError("refresh", ErrClosed, nil)
	}
	if err := j.fetch(ctx, tries, false); err != nil {
		return newError("refresh", nil, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastErr
}

// Close stops the background fetch, if one is under way, and waits for
// it; it closes the idle connections of the HTTP client the RemoteKeys made (not
// of RemoteKeysOptions.HTTPClient). It is idempotent; Key and Refresh fail with
// ErrClosed afterwards.
func (j *RemoteKeys) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	if j.bgCancel != nil {
		j.bgCancel()
	}
	j.mu.Unlock()
	j.wg.Wait()
	if j.ownHC {
		j.hc.CloseIdleConnections()
	}
	return nil
}

// fetch fetches the set unless another caller did since seen attempts.
// byKid says an unknown kid asked for it. It waits for the fetch under
// way, if any, while ctx allows; it returns ctx's error when ctx ended
// before an attempt was made or counted.
func (j *RemoteKeys) fetch(ctx context.Context, seen uint64, byKid bool) error {
	select {
	case j.fetching <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-j.fetching }()
	j.mu.Lock()
	done := j.tries != seen
	j.mu.Unlock()
	if done {
		return nil
	}
	keys, err := j.get(ctx)
	if err != nil && ctx.Err() != nil && context.Cause(ctx) != errBackgroundTimeout {
		return ctx.Err() // the caller gave up: not the server's failure, and no attempt to count
	}
	now := j.clock.Now()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.tries++
	j.triedAt = now
	if byKid {
		j.kidAt = now
	}
	j.lastErr = err
	if err == nil {
		j.keys, j.fetchedAt = keys, now
	}
	return nil
}

func (j *RemoteKeys) get(ctx context.Context) (map[string]jwkEntry, error) {
	resp, body, err := exchange(ctx, j.url, func(ctx context.Context) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		return j.hc.Do(req)
	})
	if err != nil {
		return nil, newError("jwks", nil, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, newError("jwks", nil, fmt.Errorf("GET %s: HTTP %d", j.shown, resp.StatusCode))
	}
	return parseJWKSet(body)
}

// StoreKeys is a [KeySet] of public keys held in a store: each named
// secret holds a PEM public key, certificate or private key, and its key
// ID is its version in the store (or what KeyID derives). When the store
// keeps a previous version (a [*secrets.Store] within Spec.Overlap), that
// key is found too. It is safe for concurrent use.
type StoreKeys struct {
	// Secrets holds the keys.
	Secrets Secrets
	// Names are the secrets to look in.
	Names []string
	// KeyID derives a key's ID from its version and public key. Nil: the
	// version, as an [JWTIssuer] with a nil JWTIssuerOptions.KeyID writes it.
	KeyID func(version string, pub crypto.PublicKey) string

	mu     sync.Mutex
	parsed map[*secrets.Secret]*publicKey
}

// Key returns the public key whose ID is kid among the named secrets'
// current (and previous) versions. When kid is not found and a secret
// could not be read, the error is the store's (wrapped), not
// ErrUnknownKey: a store that fails is not the token's fault.
func (s *StoreKeys) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	prev, _ := s.Secrets.(interface {
		Previous(name string) (*secrets.Secret, error)
	})
	var errs []error
	for _, name := range s.Names {
		cands := make([]*secrets.Secret, 0, 2)
		if sec, err := s.Secrets.Get(ctx, name); err == nil {
			cands = append(cands, sec)
		} else {
			errs = append(errs, err)
		}
		if prev != nil {
			if sec, err := prev.Previous(name); err == nil {
				cands = append(cands, sec)
			} else if !errors.Is(err, secrets.ErrNotFound) { // ErrNotFound: no previous version
				errs = append(errs, err)
			}
		}
		for _, sec := range cands {
			pk, err := s.public(sec)
			if err == nil && pk.kid == kid {
				return pk.pub, nil
			}
			if err != nil && !errors.Is(err, secrets.ErrDestroyed) {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, newError("key", nil, fmt.Errorf("kid %q not found, and the store failed: %w", redact.Printable(kid, 64), errors.Join(errs...)))
	}
	return nil, newError("key", ErrUnknownKey, fmt.Errorf("kid %q is not the version of any of %d keys in the store", redact.Printable(kid, 64), len(s.Names)))
}

// public parses (once per version) the public key of sec.
func (s *StoreKeys) public(sec *secrets.Secret) (*publicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pk, ok := s.parsed[sec]; ok {
		return pk, nil
	}
	var pk *publicKey
	err := sec.Use(func(v []byte) error {
		pub, err := parsePublicKey(v)
		if err != nil {
			return err
		}
		pk = &publicKey{version: sec.Version(), kid: keyID(s.KeyID, sec.Version(), pub), pub: pub}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.parsed == nil || len(s.parsed) > 64 {
		s.parsed = make(map[*secrets.Secret]*publicKey) // forget versions long rotated away
	}
	s.parsed[sec] = pk
	return pk, nil
}
