package tokens

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"

	"github.com/strongroom/strongroom/secrets"
)

// JWKSOptions configure a [JWKS]. A nil *JWKSOptions means the defaults;
// every field's zero value selects the default its comment states.
type JWKSOptions struct {
	// HTTPClient fetches the set. Nil: a pooled client with a 10 s timeout.
	HTTPClient *http.Client

	// MinInterval is the least time between two fetches caused by
	// unknown kids, so that a flood of forged kids costs the JWKS server at
	// most one request per interval; failed fetches are spaced the same
	// way. Zero: 1 min.
	MinInterval time.Duration

	// MaxAge is how long a fetched set is used before the next lookup
	// fetches it again. Zero: 1 h.
	MaxAge time.Duration

	// Clock times both. Nil: the wall clock.
	Clock secrets.Clock
}

// JWKS is a [KeySet] fetched from a JWKS URL (such as an OAuth 2.0
// server's /.well-known/jwks.json). It fetches on first use, again when the
// set is older than MaxAge, and when asked for an unknown kid, at most once
// per MinInterval (see [JWKS.Key]); fetches are one at a time. Only public signing keys
// are kept: symmetric ("oct") keys, keys marked for encryption and RSA keys
// under 2048 bits are ignored. It is safe for concurrent use.
type JWKS struct {
	url   string
	opts  JWKSOptions
	hc    *http.Client
	clock secrets.Clock

	fetchMu sync.Mutex // one fetch at a time

	mu        sync.Mutex
	keys      map[string]jwkEntry
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt
	kidAt     time.Time // last attempt an unknown kid caused
	tries     uint64    // attempts, to tell whether another caller fetched
	lastErr   error
}

// NewJWKS returns a JWKS for the set at rawURL. It fails with ErrInvalid
// for a URL that is not http(s). It makes no request.
func NewJWKS(rawURL string, opts *JWKSOptions) (*JWKS, error) {
	if u, err := url.Parse(rawURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, invalidf("new jwks", "%q is not an http(s) URL", printable(rawURL, 200))
	}
	j := &JWKS{url: rawURL}
	if opts != nil {
		j.opts = *opts
	}
	setDefault(&j.opts.MinInterval, time.Minute)
	setDefault(&j.opts.MaxAge, time.Hour)
	if j.hc = j.opts.HTTPClient; j.hc == nil {
		j.hc = cleanhttp.DefaultPooledClient()
		j.hc.Timeout = 10 * time.Second
	}
	if j.clock = j.opts.Clock; j.clock == nil {
		j.clock = wallClock{}
	}
	return j, nil
}

// Key returns the key with ID kid. It fetches the set when it has none
// yet or it is older than MaxAge, and when kid is unknown, unless the last
// fetch an unknown kid caused is less than MinInterval old: then an unknown
// kid fails at once with an error matching ErrUnknownKey. So the first
// token signed with a newly rotated key causes a fetch at once, and a flood
// of forged kids at most one fetch per MinInterval. After a failed fetch,
// lookups wait MinInterval before fetching again, and serve the keys of
// the last good set meanwhile.
func (j *JWKS) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	for attempt := 0; ; attempt++ {
		now := j.clock.Now()
		j.mu.Lock()
		keys, fetchedAt, triedAt, kidAt, tries, lastErr := j.keys, j.fetchedAt, j.triedAt, j.kidAt, j.tries, j.lastErr
		j.mu.Unlock()
		fresh := keys != nil && now.Sub(fetchedAt) < j.opts.MaxAge
		if k, ok := keys[kid]; ok && (fresh || lastErr != nil) {
			return k.pub, nil // a stale set beats none while the server fails
		}
		failing := lastErr != nil && now.Sub(triedAt) < j.opts.MinInterval
		limited := fresh && !kidAt.IsZero() && now.Sub(kidAt) < j.opts.MinInterval
		if attempt > 0 || failing || limited {
			if keys == nil && lastErr != nil {
				return nil, lastErr
			}
			return nil, newError("key", ErrUnknownKey, fmt.Errorf("kid %q is not in the JWKS fetched at %s",
				printable(kid, 64), fetchedAt.UTC().Format(time.RFC3339)))
		}
		j.fetch(ctx, tries, fresh)
	}
}

// Refresh fetches the set now, whatever the rate limit.
func (j *JWKS) Refresh(ctx context.Context) error {
	j.mu.Lock()
	tries := j.tries
	j.mu.Unlock()
	j.fetch(ctx, tries, false)
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastErr
}

// fetch fetches the set unless another caller did since seen attempts.
// byKid says an unknown kid asked for it.
func (j *JWKS) fetch(ctx context.Context, seen uint64, byKid bool) {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	j.mu.Lock()
	done := j.tries != seen
	j.mu.Unlock()
	if done {
		return
	}
	keys, err := j.get(ctx)
	if err != nil && ctx.Err() != nil {
		return // the caller gave up: not the server's failure, and no attempt to count
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
}

func (j *JWKS) get(ctx context.Context) (map[string]jwkEntry, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, newError("jwks", nil, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.hc.Do(req)
	if err != nil {
		return nil, newError("jwks", nil, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, newError("jwks", nil, fmt.Errorf("GET %s: HTTP %d", j.url, resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, newError("jwks", nil, err)
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
	// version, as an [Issuer] with a nil IssuerOptions.KeyID writes it.
	KeyID func(version string, pub crypto.PublicKey) string

	mu     sync.Mutex
	parsed map[*secrets.Secret]*publicKey
}

// Key returns the public key whose ID is kid among the named secrets'
// current (and previous) versions.
func (s *StoreKeys) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	prev, _ := s.Secrets.(interface {
		Previous(name string) (*secrets.Secret, error)
	})
	for _, name := range s.Names {
		cands := make([]*secrets.Secret, 0, 2)
		if sec, err := s.Secrets.Get(ctx, name); err == nil {
			cands = append(cands, sec)
		}
		if prev != nil {
			if sec, err := prev.Previous(name); err == nil {
				cands = append(cands, sec)
			}
		}
		for _, sec := range cands {
			pk, err := s.public(sec)
			if err == nil && pk.kid == kid {
				return pk.pub, nil
			}
		}
	}
	return nil, newError("key", ErrUnknownKey, fmt.Errorf("kid %q is not the version of any of %d keys in the store", printable(kid, 64), len(s.Names)))
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
