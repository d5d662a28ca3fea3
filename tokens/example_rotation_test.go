package tokens_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
	"github.com/strongroom/strongroom/tokens"
)

// A SigningKeyTarget rotates a JWTIssuer's signing key with a Rotator: each
// new key is made in locked memory by a SigningKeyGenerator, published in
// the JWK Set, tested, promoted in the store, and the old key withdrawn
// after the overlap.
func ExampleSigningKeyTarget() {
	ctx := context.Background()
	// The key and the rotation's own secrets live in a backend that can
	// write (conditionally, for the rotation's state).
	mem := memory.New(nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	// The key's Spec.Overlap keeps the previous key for the JWTIssuer's
	// PublishAhead and for a rollback after promotion.
	store.Add(secrets.Spec{Name: "signing-key", Ref: "memory://signing-key", Kind: secrets.KindKey, Overlap: 2 * time.Hour})
	if _, err := store.Regenerate(ctx, "signing-key", tokens.SigningKeyGenerator{}); err != nil { // the first key
		panic(err)
	}

	// The kid must be known before the key is in the store: a thumbprint.
	issuer, err := tokens.NewJWTIssuer(store, "signing-key", "https://jobs.example", &tokens.JWTIssuerOptions{
		Lifetime: 5 * time.Minute, PublishAhead: 10 * time.Minute, KeyID: tokens.ThumbprintKeyID})
	if err != nil {
		panic(err)
	}
	defer issuer.Close()
	http.Handle("/.well-known/jwks.json", issuer)

	target, err := tokens.NewSigningKeyTarget(issuer)
	if err != nil {
		panic(err)
	}
	rotator, err := rotate.New(store, nil)
	if err != nil {
		panic(err)
	}
	defer rotator.Close()
	err = rotator.Add(ctx, rotate.Rotation{
		Secret:     "signing-key",
		PendingRef: "memory://signing-key.pending",
		StateRef:   "memory://signing-key.rotation",
		Target:     target,
		Strategy:   rotate.Overlapping(""),
		Policy: rotate.Policy{
			Every:     30 * 24 * time.Hour,
			Overlap:   target.MinOverlap(), // PublishAhead + the JWTIssuer's Overlap: 16 min
			Generator: tokens.SigningKeyGenerator{Algorithm: "ES256"},
		},
	})
	if err != nil {
		panic(err)
	}
}

// A SigningKeyGenerator writes a PKCS #8 PEM private key of one fixed
// length into the buffer it is given: with Store.Regenerate (or as a
// rotation's Policy.Generator), a buffer of locked memory.
func ExampleSigningKeyGenerator() {
	ctx := context.Background()
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": memory.New(nil)}})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	store.Add(secrets.Spec{Name: "signing-key", Ref: "memory://signing-key", Kind: secrets.KindKey})
	gen := tokens.SigningKeyGenerator{Algorithm: "EdDSA"}
	sec, err := store.Regenerate(ctx, "signing-key", gen)
	if err != nil {
		panic(err)
	}
	sec.Use(func(key []byte) error {
		first, _, _ := bytes.Cut(key, []byte("\n"))
		fmt.Printf("%d bytes: %s\n", len(key), first)
		return nil
	})

	issuer, _ := tokens.NewJWTIssuer(store, "signing-key", "https://jobs.example", &tokens.JWTIssuerOptions{KeyID: tokens.ThumbprintKeyID})
	defer issuer.Close()
	verifier, _ := tokens.NewVerifier(issuer, "https://jobs.example", "billing", nil)
	g, err := issuer.Fetch(ctx, tokens.Request{Audience: []string{"billing"}})
	if err != nil {
		panic(err)
	}
	claims, err := verifier.Verify(ctx, string(g.Value))
	if err != nil {
		panic(err)
	}
	fmt.Println("alg:", claims.Algorithm, "kid is 43 characters:", len(claims.KeyID) == 43)

	// The same generator, outside a store.
	key := make([]byte, gen.Size())
	defer clear(key)
	if err := gen.Generate(key, rand.Reader); err != nil {
		panic(err)
	}
	fmt.Println(len(key) == gen.Size())
	// Output:
	// 119 bytes: -----BEGIN PRIVATE KEY-----
	// alg: EdDSA kid is 43 characters: true
	// true
}
