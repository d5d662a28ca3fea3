package kms_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/kms"
	"github.com/strongroom/strongroom/providers/memory"
)

// TestRedactionEveryType renders a sample of every exported type, every
// way a program could print or log it, with the marker as the KMS
// client's secret key and session token, as the plaintext of values and
// inside the stored values the provider refused.
//
// Client is an interface, implemented by the SDK's *kms.Client, which
// prints its credentials under %s (the SDK's type: this package never
// prints it). Its samples are this package's values that hold a Client:
// the provider (with a data key cached) and the errors of the calls it made
// through it.
func TestRedactionEveryType(t *testing.T) {
	const marker = "Qz8v-PLAINTEXT-MARKER-k4j7"
	ctx := context.Background()
	srv := testservers.StartLocalKMS(t)
	client := awskms.New(awskms.Options{
		Region:       testservers.LocalKMSRegion,
		BaseEndpoint: aws.String(srv.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDREDACTIONTEST", marker, marker),
	})
	unreachable := awskms.New(awskms.Options{
		Region:       testservers.LocalKMSRegion,
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDREDACTIONTEST", marker, marker),
	})
	key := newKey(t, client)
	plain := []byte(strings.Repeat(marker, 200)) // 5,200 bytes: an envelope
	envelope := encrypt(t, client, key, testContext, plain)
	tampered := bytes.Clone(envelope)
	tampered[len(tampered)-1] ^= 1

	mem := memory.New(nil)
	mem.Set("good", envelope, nil)
	mem.Set("tampered", tampered, nil)
	mem.Set("not-a-ciphertext", []byte(marker+marker), nil)
	mem.Set("truncated", append([]byte("SRKE\x01\x00\x20\x00\x00\x00\x20"), marker...), nil)
	opts := kms.Options{Client: client, Inner: mem, InnerScheme: "memory", KeyID: key, DecryptKeyIDs: []string{key}}
	p, err := kms.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	readOnly, err := kms.New(kms.Options{Client: client, Inner: mem, InnerScheme: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	offline, err := kms.New(kms.Options{Client: unreachable, Inner: mem, InnerScheme: "memory"})
	if err != nil {
		t.Fatal(err)
	}

	v, err := p.Fetch(ctx, "kms+memory://good"+refCtx)
	if err != nil || !bytes.Equal(v.Data, plain) {
		t.Fatalf("fetch: %v", err)
	}
	v.Wipe()
	if _, held := kms.DataKeyCache(p); held != 1 {
		t.Fatalf("%d data keys cached, want 1", held)
	}
	var refusals []any
	refuse := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		refusals = append(refusals, err)
	}
	for _, name := range []string{"tampered", "not-a-ciphertext", "truncated"} {
		_, err := p.Fetch(ctx, "kms+memory://"+name+refCtx)
		refuse(name, err)
	}
	_, err = p.Fetch(ctx, "kms+memory://good?kms-context=app:other")
	refuse("another context", err)
	_, err = offline.Fetch(ctx, "kms+memory://good"+refCtx)
	refuse("KMS unreachable", err)
	_, err = readOnly.(providers.Writer).Write(ctx, "kms+memory://w", []byte(marker))
	refuse("Write without a key", err)
	_, err = kms.Encrypt(ctx, client, "alias/no-such-key", testContext, []byte(marker))
	refuse("Encrypt under a missing key", err)
	_, err = kms.ReEncrypt(ctx, client, []byte(marker+marker), testContext, key)
	refuse("ReEncrypt of a bad ciphertext", err)
	if !errors.Is(refusals[0].(error), providers.ErrInvalid) {
		t.Fatalf("tampered envelope: %v", refusals[0])
	}

	redacttest.Check(t, ".", map[string][]any{
		"Client":  append([]any{p, readOnly, []providers.Provider{p}, struct{ P providers.Provider }{p}}, refusals...),
		"Options": {opts, &opts, struct{ O kms.Options }{opts}},
	}, redacttest.Forms([]byte(marker)))
}
