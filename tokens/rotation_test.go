package tokens

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers/memory"
	rot "github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
)

// TestSigningKeyGenerator: each algorithm's key is PKCS #8 PEM of the one
// length Size states, byte for byte what crypto/x509 and encoding/pem
// write for the same key, and a key the JWTIssuer signs with.
func TestSigningKeyGenerator(t *testing.T) {
	for _, c := range []struct {
		alg, jws string
		std      func() any // a fresh key made by the standard library
	}{
		{"", "ES256", func() any { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }},
		{"ES256", "ES256", func() any { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }},
		{"ES384", "ES384", func() any { k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader); return k }},
		{"ES512", "ES512", func() any { k, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader); return k }},
		{"EdDSA", "EdDSA", func() any { _, k, _ := ed25519.GenerateKey(rand.Reader); return k }},
	} {
		g := SigningKeyGenerator{Algorithm: c.alg}
		sizes := map[int]bool{}
		for range 20 {
			sizes[len(stdPEM(t, c.std()))] = true
		}
		if len(sizes) != 1 || !sizes[g.Size()] {
			t.Errorf("%q: Size %d; the standard library's PEM lengths %v", c.alg, g.Size(), sizes)
		}
		seen := map[string]bool{}
		for range 50 {
			dst := make([]byte, g.Size())
			if err := g.Generate(dst, rand.Reader); err != nil {
				t.Fatalf("%q: %v", c.alg, err)
			}
			block, rest := pem.Decode(dst)
			if block == nil || block.Type != "PRIVATE KEY" || len(rest) != 0 {
				t.Fatalf("%q: not one PKCS #8 PEM block:\n%s", c.alg, dst)
			}
			key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatalf("%q: %v", c.alg, err)
			}
			if again := stdPEM(t, key); !bytes.Equal(again, dst) {
				t.Fatalf("%q: the standard library encodes the key otherwise:\n%s\n%s", c.alg, dst, again)
			}
			signer, err := parsePrivateKey(dst)
			if err != nil {
				t.Fatalf("%q: %v", c.alg, err)
			}
			if alg, _ := algFor(signer.Public()); alg != c.jws {
				t.Fatalf("%q: a key for %s", c.alg, alg)
			}
			seen[string(dst)] = true
		}
		if len(seen) != 50 {
			t.Errorf("%q: %d distinct keys in 50", c.alg, len(seen))
		}
	}
}

func stdPEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TestSigningKeyGeneratorRandomness: the key comes from the reader given,
// rejection sampling refuses scalars outside the curve's order, and a
// reader that runs dry, a wrong buffer or an unknown algorithm fail.
func TestSigningKeyGeneratorRandomness(t *testing.T) {
	gen := func(g SigningKeyGenerator, r io.Reader) ([]byte, error) {
		dst := make([]byte, g.Size())
		err := g.Generate(dst, r)
		return dst, err
	}
	for _, alg := range []string{"ES256", "ES384", "ES512", "EdDSA"} {
		g := SigningKeyGenerator{Algorithm: alg}
		a, err1 := gen(g, fixedRandom(7))
		b, err2 := gen(g, fixedRandom(7))
		c, err3 := gen(g, fixedRandom(8))
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if !bytes.Equal(a, b) || bytes.Equal(a, c) {
			t.Errorf("%s: the key does not follow the reader", alg)
		}
	}
	// Zero and all-ones scalars are outside [1, n-1]: every draw is
	// refused, and the generator gives up.
	for _, r := range []fixedRandom{0x00, 0xff} {
		dst, err := gen(SigningKeyGenerator{}, r)
		if err == nil || !strings.Contains(err.Error(), "no valid") {
			t.Errorf("a reader of 0x%02x bytes: %v", byte(r), err)
		}
		if strings.Contains(string(dst), "PRIVATE KEY") {
			t.Errorf("a refused key was written")
		}
	}
	// A draw refused, then a valid one.
	var draws atomic.Int32
	_, err := gen(SigningKeyGenerator{}, readerFunc(func(p []byte) (int, error) {
		fill := byte(0xff)
		if draws.Add(1) > 1 {
			fill = 0x42
		}
		for i := range p {
			p[i] = fill
		}
		return len(p), nil
	}))
	if err != nil || draws.Load() != 2 {
		t.Errorf("after a refused draw: %v (%d draws)", err, draws.Load())
	}
	if _, err := gen(SigningKeyGenerator{}, strings.NewReader("short")); err == nil {
		t.Error("a reader that runs dry: no error")
	}
	if err := (SigningKeyGenerator{}).Generate(make([]byte, 240), rand.Reader); !errors.Is(err, ErrInvalid) {
		t.Errorf("a buffer one byte short: %v", err)
	}
	bad := SigningKeyGenerator{Algorithm: "RS256"}
	if bad.Size() != 0 {
		t.Errorf("RS256: Size %d, want 0", bad.Size())
	}
	if err := bad.Generate(make([]byte, 241), rand.Reader); !errors.Is(err, ErrInvalid) {
		t.Errorf("RS256: %v", err)
	}
	// The store refuses the unknown algorithm before writing.
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "key", ecKeyPEM(t))
	if _, err := store.Regenerate(context.Background(), "key", bad); !errors.Is(err, secrets.ErrInvalid) {
		t.Errorf("Regenerate with RS256: %v", err)
	}
	sec, err := store.Regenerate(context.Background(), "key", SigningKeyGenerator{Algorithm: "EdDSA"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sec.Use(func(v []byte) error { _, err := parsePrivateKey(v); return err }); err != nil {
		t.Errorf("a key regenerated in the store: %v", err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// keyRotationEnv is a JWTIssuer on a virtual clock whose signing key is in
// a memory store, with its SigningKeyTarget and a Verifier trusting it.
type keyRotationEnv struct {
	clock  *memory.Clock
	store  *secrets.Store
	mem    *memory.Provider
	iss    *JWTIssuer
	target *SigningKeyTarget
	v      *Verifier
	first  []byte // the initial key
}

func newKeyRotationEnv(t *testing.T, opts JWTIssuerOptions) *keyRotationEnv {
	t.Helper()
	env := &keyRotationEnv{clock: memory.NewClock(epoch), first: ecKeyPEM(t)}
	env.store, env.mem = newStore(t, env.clock)
	addSecret(t, env.store, env.mem, "signing-key", env.first)
	opts.Clock = env.clock
	if opts.KeyID == nil {
		opts.KeyID = ThumbprintKeyID
	}
	var err error
	env.iss, err = NewJWTIssuer(env.store, "signing-key", testIssuer, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.iss.Close() })
	if env.target, err = NewSigningKeyTarget(env.iss); err != nil {
		t.Fatal(err)
	}
	if env.v, err = NewVerifier(env.iss, testIssuer, testAudience, &VerifierOptions{Clock: env.clock, Leeway: -1}); err != nil {
		t.Fatal(err)
	}
	return env
}

// sign returns a token the JWTIssuer signs now.
func (env *keyRotationEnv) sign(t *testing.T) string {
	t.Helper()
	g, err := env.iss.Fetch(context.Background(), billingRead)
	if err != nil {
		t.Fatal(err)
	}
	return string(g.Value)
}

// kidOf verifies tok and returns its kid.
func (env *keyRotationEnv) kidOf(t *testing.T, tok string) string {
	t.Helper()
	c, err := env.v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("a token of the JWTIssuer does not verify: %v", err)
	}
	return c.KeyID
}

// kids lists the kids of the JWK Set, in its order.
func (env *keyRotationEnv) kids(t *testing.T) []string {
	t.Helper()
	set, err := env.iss.JWKSet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

// value returns what the store holds as name.
func (env *keyRotationEnv) value(t *testing.T, name string) []byte {
	t.Helper()
	var v []byte
	if err := env.store.Use(context.Background(), name, func(b []byte) error { v = bytes.Clone(b); return nil }); err != nil {
		t.Fatal(err)
	}
	return v
}

// rotator runs target for the signing key, on the env's clock, on a
// monthly schedule unless policy has one (so that between rotations the
// rotator waits on a timer of the clock).
func (env *keyRotationEnv) rotator(t *testing.T, target rot.Target, policy rot.Policy) (*rot.Rotator, chan rot.Event) {
	t.Helper()
	if policy.Every == 0 {
		policy.Every = 30 * 24 * time.Hour
	}
	r, err := rot.New(env.store, &rot.Options{Clock: env.clock, Logger: slog.New(slog.DiscardHandler), Instance: "test-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	events := make(chan rot.Event, 100)
	r.Subscribe(func(e rot.Event) { events <- e })
	err = r.Add(context.Background(), rot.Rotation{
		Secret: "signing-key", PendingRef: "memory://signing-key.pending", StateRef: "memory://signing-key.rotation",
		Target: target, Strategy: rot.Overlapping(""), Policy: policy,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, events
}

func kidOfPEM(t *testing.T, pemKey []byte) string {
	t.Helper()
	k, err := parsePrivateKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	return ThumbprintKeyID("", k.Public())
}

func credential(secret []byte) rot.Credential { return rot.Credential{Secret: secret, ID: "test"} }

// TestSigningKeyRotation: a rotation by the rotator, end to end. The new
// key is published before the JWTIssuer signs with it (a verifier that
// fetched the JWK Set then needs no other fetch for the new tokens);
// after promotion the JWTIssuer signs with it and both keys are
// published; tokens of the old key verify during the overlap; after it
// only the new key is published and the old key's tokens no longer
// verify, though unexpired.
func TestSigningKeyRotation(t *testing.T) {
	leakCheck(t)
	ctx := context.Background()
	env := newKeyRotationEnv(t, JWTIssuerOptions{Lifetime: time.Hour, Overlap: 2 * time.Hour})
	oldKid := kidOfPEM(t, env.first)

	// A verifier in another process, caching the served JWK Set for an hour.
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		env.iss.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	remote, err := NewRemoteKeys(srv.URL, &RemoteKeysOptions{Clock: env.clock, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })
	rv, _ := NewVerifier(remote, testIssuer, testAudience, &VerifierOptions{Clock: env.clock, Leeway: -1})

	tested := make(chan string)
	proceed := make(chan struct{})
	gated := rot.TargetFuncs{
		SetFunc: env.target.Set,
		TestFunc: func(ctx context.Context, c rot.Credential) error {
			if err := env.target.Test(ctx, c); err != nil {
				return err
			}
			k, _ := parsePrivateKey(c.Secret)
			tested <- ThumbprintKeyID("", k.Public())
			<-proceed
			return nil
		},
		RetireFunc: env.target.Retire,
	}
	r, events := env.rotator(t, gated, rot.Policy{Overlap: 10 * time.Minute, Generator: SigningKeyGenerator{}})
	done := make(chan error, 1)
	go func() { done <- r.RotateNow(ctx, "signing-key") }()

	// Set and Test done, not promoted: the new key is published, the old
	// one signs.
	var newKid string
	select {
	case newKid = <-tested:
	case err := <-done:
		t.Fatalf("the rotation ended before its test: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the rotation did not reach its test")
	}
	if newKid == oldKid {
		t.Fatal("the new key has the old key's kid")
	}
	if got, want := env.kids(t), []string{oldKid, newKid}; !slices.Equal(got, want) {
		t.Errorf("before promotion the JWK Set has %q, want %q (the current key first)", got, want)
	}
	oldTok := env.sign(t)
	if kid := env.kidOf(t, oldTok); kid != oldKid {
		t.Errorf("before promotion a token is signed with %q, want the old key %q", kid, oldKid)
	}
	if _, err := rv.Verify(ctx, oldTok); err != nil {
		t.Fatalf("the remote verifier: %v", err)
	}
	if _, err := remote.Key(ctx, newKid); err != nil || fetches.Load() != 1 {
		t.Fatalf("the remote verifier's set lacks the new key: %v (%d fetches)", err, fetches.Load())
	}
	close(proceed)

	// Promoted: the new key signs, both are published.
	for e := range events {
		if e.Kind == rot.EventPromoted {
			break
		}
		if e.Kind == rot.EventRolledBack {
			t.Fatalf("rolled back: %v", e.Err)
		}
	}
	env.clock.Wait()
	if cur := env.value(t, "signing-key"); kidOfPEM(t, cur) != newKid {
		t.Fatal("promoted, yet the store's current key is not the new one")
	}
	newTok := env.sign(t)
	if kid := env.kidOf(t, newTok); kid != newKid {
		t.Errorf("after promotion a token is signed with %q, want the new key %q", kid, newKid)
	}
	if got, want := env.kids(t), []string{newKid, oldKid}; !slices.Equal(got, want) {
		t.Errorf("after promotion the JWK Set has %q, want %q", got, want)
	}
	if _, err := rv.Verify(ctx, newTok); err != nil || fetches.Load() != 1 {
		t.Errorf("the remote verifier, with the set it fetched before promotion: %v (%d fetches, want 1)", err, fetches.Load())
	}

	// During the overlap the old key's tokens verify.
	for range 30 {
		env.clock.Advance(10 * time.Second)
	}
	select {
	case err := <-done:
		t.Fatalf("the rotation ended within the overlap: %v", err)
	default:
	}
	if _, err := env.v.Verify(ctx, oldTok); err != nil {
		t.Errorf("an old key's token during the overlap: %v", err)
	}
	if got := env.kids(t); len(got) != 2 {
		t.Errorf("during the overlap the JWK Set has %q", got)
	}

	// After the overlap the old key is retired.
	if err := runClock(t, env.clock, done); err != nil {
		t.Fatalf("RotateNow: %v", err)
	}
	if got, want := env.kids(t), []string{newKid}; !slices.Equal(got, want) {
		t.Errorf("after the rotation the JWK Set has %q, want only the new key", got)
	}
	if _, err := env.v.Verify(ctx, oldTok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("an unexpired old key's token after the rotation: %v, want ErrUnknownKey", err)
	}
	if _, err := env.v.Verify(ctx, newTok); err != nil {
		t.Errorf("a new key's token after the rotation: %v", err)
	}
	if kid := env.kidOf(t, env.sign(t)); kid != newKid {
		t.Errorf("after the rotation a token is signed with %q", kid)
	}
	env.iss.mu.Lock()
	staged := len(env.iss.staged)
	env.iss.mu.Unlock()
	if staged != 0 {
		t.Errorf("%d keys are still staged after the rotation", staged)
	}
	st, _ := r.Status("signing-key")
	if st.LastOutcome != rot.OutcomeRotated {
		t.Errorf("status %+v", st)
	}
}

// runClock advances the clock a second at a time until done answers.
func runClock(t *testing.T, clock *memory.Clock, done chan error) error {
	t.Helper()
	for range 100000 {
		select {
		case err := <-done:
			return err
		default:
		}
		clock.Advance(time.Second)
		time.Sleep(100 * time.Microsecond)
	}
	t.Fatal("the rotation did not end")
	return nil
}

// TestSigningKeyRotationRollsBack: a failed test rolls the rotation back:
// the pending key is withdrawn from the JWK Set, the old key signs and
// stays the only one published, and the pending secret no longer holds
// the new key. Both a test the target fails (the key was never
// published) and one a later check fails (it was) roll back.
func TestSigningKeyRotationRollsBack(t *testing.T) {
	for _, c := range []struct {
		name    string
		publish bool
		want    string
	}{
		{"not published", false, "has no key"},
		{"refused after publication", true, "a verifier refused the new key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			leakCheck(t)
			ctx := context.Background()
			env := newKeyRotationEnv(t, JWTIssuerOptions{})
			oldKid := kidOfPEM(t, env.first)
			var mu sync.Mutex
			var newKid string
			var during []string
			target := rot.TargetFuncs{
				SetFunc: func(ctx context.Context, cred rot.Credential) error {
					if !c.publish {
						return nil
					}
					return env.target.Set(ctx, cred)
				},
				TestFunc: func(ctx context.Context, cred rot.Credential) error {
					if err := env.target.Test(ctx, cred); err != nil {
						return err
					}
					mu.Lock()
					defer mu.Unlock()
					k, _ := parsePrivateKey(cred.Secret)
					newKid = ThumbprintKeyID("", k.Public())
					during = env.kids(t)
					return errors.New("a verifier refused the new key")
				},
				RetireFunc: env.target.Retire,
			}
			r, _ := env.rotator(t, target, rot.Policy{Generator: SigningKeyGenerator{}})
			done := make(chan error, 1)
			go func() { done <- r.RotateNow(ctx, "signing-key") }()
			err := runClock(t, env.clock, done)
			var rerr *rot.Error
			if !errors.As(err, &rerr) || rerr.Step != rot.StepTest || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("RotateNow: %v; want a failed test step (%q)", err, c.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if c.publish && !slices.Equal(during, []string{oldKid, newKid}) {
				t.Errorf("while tested the JWK Set had %q, want %q", during, []string{oldKid, newKid})
			}
			if got := env.kids(t); !slices.Equal(got, []string{oldKid}) {
				t.Errorf("after the rollback the JWK Set has %q, want only the old key %q", got, oldKid)
			}
			if newKid != "" {
				if _, err := env.iss.Key(ctx, newKid); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("the withdrawn key: %v, want ErrUnknownKey", err)
				}
			}
			if kid := env.kidOf(t, env.sign(t)); kid != oldKid {
				t.Errorf("after the rollback a token is signed with %q", kid)
			}
			if !bytes.Equal(env.value(t, "signing-key"), env.first) || !bytes.Equal(env.value(t, "signing-key.pending"), env.first) {
				t.Error("after the rollback the store holds another key as current or pending")
			}
		})
	}
}

// TestSigningKeyTarget: Set, Test and Retire called directly: each is
// idempotent; Test finds only what Set published; errors never quote the
// secret; a closed JWTIssuer refuses them.
func TestSigningKeyTarget(t *testing.T) {
	leakCheck(t)
	ctx := context.Background()
	env := newKeyRotationEnv(t, JWTIssuerOptions{})
	oldKid, next, other := kidOfPEM(t, env.first), ecKeyPEM(t), ecKeyPEM(t)
	nextKid := kidOfPEM(t, next)

	if err := env.target.Test(ctx, credential(next)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Test before Set: %v, want ErrUnknownKey", err)
	}
	for range 2 {
		if err := env.target.Set(ctx, credential(next)); err != nil {
			t.Fatal(err)
		}
		if got := env.kids(t); !slices.Equal(got, []string{oldKid, nextKid}) {
			t.Errorf("after Set the JWK Set has %q", got)
		}
		if err := env.target.Test(ctx, credential(next)); err != nil {
			t.Errorf("Test after Set: %v", err)
		}
	}
	if err := env.target.Test(ctx, credential(other)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Test of a key not set: %v, want ErrUnknownKey", err)
	}
	// The current key is published and tests as well.
	if err := env.target.Test(ctx, credential(env.first)); err != nil {
		t.Errorf("Test of the current key: %v", err)
	}
	// In process, a token of the pending key verifies too.
	if _, err := env.iss.Key(ctx, nextKid); err != nil {
		t.Errorf("Key of the published key: %v", err)
	}

	for _, secret := range []string{"not a key " + redactMarker, "-----BEGIN PRIVATE KEY-----\n" + redactMarker + "\n-----END PRIVATE KEY-----\n"} {
		for name, f := range map[string]func(context.Context, rot.Credential) error{"Set": env.target.Set, "Test": env.target.Test, "Retire": env.target.Retire} {
			err := f(ctx, credential([]byte(secret)))
			if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), redactMarker) {
				t.Errorf("%s of a secret that is no key: %v", name, err)
			}
		}
	}
	// An RSA key of 1024 bits is no key the JWTIssuer signs with.
	if err := env.target.Set(ctx, credential(rsa1024PEM(t))); !errors.Is(err, ErrInvalid) {
		t.Errorf("Set of a 1024-bit RSA key: %v", err)
	}

	for range 2 {
		if err := env.target.Retire(ctx, credential(env.first)); err != nil {
			t.Fatal(err)
		}
		if got := env.kids(t); !slices.Equal(got, []string{oldKid}) {
			t.Errorf("after Retire the JWK Set has %q", got)
		}
	}
	if err := env.target.Test(ctx, credential(next)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Test after Retire: %v, want ErrUnknownKey", err)
	}
	// Retire keeps the key the JWTIssuer signs with, even when told to keep
	// another one.
	env.target.Set(ctx, credential(next))
	if err := env.target.Retire(ctx, credential(other)); err != nil {
		t.Fatal(err)
	}
	if got := env.kids(t); !slices.Equal(got, []string{oldKid}) {
		t.Errorf("after Retire keeping a key not published the JWK Set has %q", got)
	}

	if got := env.target.MinOverlap(); got != 6*time.Minute {
		t.Errorf("MinOverlap %v, want PublishAhead 0 + Overlap 6 min", got)
	}
	env.iss.Close()
	for name, f := range map[string]func(context.Context, rot.Credential) error{"Set": env.target.Set, "Test": env.target.Test, "Retire": env.target.Retire} {
		if err := f(ctx, credential(next)); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func rsa1024PEM(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return stdPEM(t, k)
}

// TestSigningKeyTargetKeyIDs: the target needs a kid that is known before
// the key has a version, and that tells keys apart.
func TestSigningKeyTargetKeyIDs(t *testing.T) {
	leakCheck(t)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "signing-key", ecKeyPEM(t))
	if _, err := NewSigningKeyTarget(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil JWTIssuer: %v", err)
	}
	for _, c := range []struct {
		name  string
		keyID func(string, crypto.PublicKey) string
		ok    bool
	}{
		{"default (the version)", nil, false},
		{"the version and the thumbprint", func(v string, pub crypto.PublicKey) string { return v + ThumbprintKeyID("", pub) }, false},
		{"one kid for every key", func(string, crypto.PublicKey) string { return "signing-key" }, false},
		{"empty", func(string, crypto.PublicKey) string { return "" }, false},
		{"thumbprint", ThumbprintKeyID, true},
		{"a prefixed thumbprint", func(_ string, pub crypto.PublicKey) string { return "jobs-" + ThumbprintKeyID("", pub) }, true},
	} {
		iss, err := NewJWTIssuer(store, "signing-key", testIssuer, &JWTIssuerOptions{KeyID: c.keyID})
		if err != nil {
			t.Fatal(err)
		}
		defer iss.Close()
		_, err = NewSigningKeyTarget(iss)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestSigningKeyTargetPublishAhead: PublishAhead counts from Set, not from
// promotion: a key set long enough before is signed with as soon as it
// is promoted; one promoted without Set waits its PublishAhead.
func TestSigningKeyTargetPublishAhead(t *testing.T) {
	leakCheck(t)
	ctx := context.Background()
	env := newKeyRotationEnv(t, JWTIssuerOptions{PublishAhead: 5 * time.Minute})
	env.sign(t) // the first key seen is signed with at once

	// Set, then promoted after PublishAhead: signed with at once.
	k2 := ecKeyPEM(t)
	if err := env.target.Set(ctx, credential(k2)); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(5 * time.Minute)
	rotate(t, env.store, env.mem, "signing-key", k2)
	if kid := env.kidOf(t, env.sign(t)); kid != kidOfPEM(t, k2) {
		t.Errorf("a key set PublishAhead before its promotion: signed with %q, want it (%q)", kid, kidOfPEM(t, k2))
	}

	// Set, then promoted after 2 of the 5 minutes: 3 more with the old key.
	k3 := ecKeyPEM(t)
	env.target.Set(ctx, credential(k3))
	env.clock.Advance(2 * time.Minute)
	rotate(t, env.store, env.mem, "signing-key", k3)
	if kid := env.kidOf(t, env.sign(t)); kid != kidOfPEM(t, k2) {
		t.Errorf("2 minutes after Set: signed with %q, want the previous key", kid)
	}
	env.clock.Advance(3 * time.Minute)
	if kid := env.kidOf(t, env.sign(t)); kid != kidOfPEM(t, k3) {
		t.Errorf("5 minutes after Set: signed with %q, want the new key", kid)
	}

	// Promoted without Set: PublishAhead from promotion.
	k4 := ecKeyPEM(t)
	rotate(t, env.store, env.mem, "signing-key", k4)
	env.clock.Advance(4 * time.Minute)
	if kid := env.kidOf(t, env.sign(t)); kid != kidOfPEM(t, k3) {
		t.Errorf("4 minutes after a promotion without Set: signed with %q, want the previous key", kid)
	}
	env.clock.Advance(time.Minute)
	if kid := env.kidOf(t, env.sign(t)); kid != kidOfPEM(t, k4) {
		t.Errorf("5 minutes after a promotion without Set: signed with %q, want the new key", kid)
	}
}

// TestSigningKeyTargetConcurrent: the target's state in the JWTIssuer is
// safe for concurrent use (run with -race).
func TestSigningKeyTargetConcurrent(t *testing.T) {
	leakCheck(t)
	ctx := context.Background()
	env := newKeyRotationEnv(t, JWTIssuerOptions{})
	keys := [][]byte{ecKeyPEM(t), ecKeyPEM(t), ecKeyPEM(t)}
	var wg sync.WaitGroup
	for n := range 4 {
		wg.Go(func() {
			for i := range 30 {
				k := keys[(n+i)%len(keys)]
				switch i % 5 {
				case 0, 1:
					env.target.Set(ctx, credential(k))
				case 2:
					env.target.Test(ctx, credential(k))
				case 3:
					env.target.Retire(ctx, credential(env.first))
				case 4:
					env.iss.JWKSet(ctx)
					env.iss.Fetch(ctx, billingRead)
				}
			}
		})
	}
	wg.Wait()
	env.target.Retire(ctx, credential(env.first))
	if got := env.kids(t); !slices.Equal(got, []string{kidOfPEM(t, env.first)}) {
		t.Errorf("after a final Retire the JWK Set has %q", got)
	}
}

// TestSigningKeyRotationRollbackAfterPromotion: rolled back on demand
// after promotion, the old key is written back as a new version (with its
// old kid, published once) and signs again, and the new key is withdrawn.
func TestSigningKeyRotationRollbackAfterPromotion(t *testing.T) {
	leakCheck(t)
	ctx := context.Background()
	env := newKeyRotationEnv(t, JWTIssuerOptions{Lifetime: time.Hour, Overlap: 2 * time.Hour})
	oldKid := kidOfPEM(t, env.first)
	oldTok := env.sign(t)
	r, events := env.rotator(t, env.target, rot.Policy{Overlap: 10 * time.Minute, Generator: SigningKeyGenerator{}})
	done := make(chan error, 1)
	go func() { done <- r.RotateNow(ctx, "signing-key") }()
	for e := range events {
		if e.Kind == rot.EventPromoted {
			break
		}
	}
	env.clock.Wait()
	newTok := env.sign(t)
	newKid := env.kidOf(t, newTok)
	if newKid == oldKid {
		t.Fatal("promoted, yet the old key signs")
	}
	if err := r.Rollback(ctx, "signing-key"); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if err := <-done; err == nil {
		t.Error("RotateNow returned nil for a rotation rolled back")
	}
	env.clock.Wait()
	if !bytes.Equal(env.value(t, "signing-key"), env.first) {
		t.Fatal("after Rollback the store's current key is not the old one")
	}
	if got := env.kids(t); !slices.Equal(got, []string{oldKid}) {
		t.Errorf("after Rollback the JWK Set has %q, want the old key once", got)
	}
	if kid := env.kidOf(t, env.sign(t)); kid != oldKid {
		t.Errorf("after Rollback a token is signed with %q, want the old key", kid)
	}
	if _, err := env.v.Verify(ctx, oldTok); err != nil {
		t.Errorf("a token of the old key, signed before the rotation: %v", err)
	}
	if _, err := env.v.Verify(ctx, newTok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("a token of the withdrawn key: %v, want ErrUnknownKey", err)
	}
}
