package kms_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/providers/aws/kms"
	"github.com/strongroom/strongroom/secrets"
)

// storeFixture is a running store over a kms+ provider on a backend.
type storeFixture struct {
	c     *awskms.Client
	key   string
	b     backend
	store *secrets.Store
}

// newStore opens a store over kms+b.scheme on a new inner provider of b;
// pin makes the provider accept only key.
func newStore(t *testing.T, c *awskms.Client, key string, b backend, pin bool) *storeFixture {
	t.Helper()
	f := &storeFixture{c: c, key: key, b: b}
	opts := kms.Options{Client: c, Inner: b.open(t), InnerScheme: b.scheme, KeyID: key, Base64: b.text}
	if pin {
		opts.DecryptKeyIDs = []string{key}
	}
	p, err := kms.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.store, err = secrets.Open(context.Background(), &secrets.Options{Providers: map[string]providers.Provider{"kms+" + b.scheme: p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	return f
}

// put stores blob, a binary ciphertext, as the backend's secret called
// name, in the backend's form.
func (f *storeFixture) put(t *testing.T, name string, blob []byte) {
	t.Helper()
	f.b.put(t, name, f.b.store(blob))
}

// add adds the secret called name over the backend's secret inner, with
// the test encryption context.
func (f *storeFixture) add(t *testing.T, name, inner string) {
	t.Helper()
	if err := f.store.Add(secrets.Spec{Name: name, Ref: "kms+" + f.b.ref(inner) + refCtx}); err != nil {
		t.Fatal(err)
	}
}

func (f *storeFixture) get(t *testing.T, name string) string {
	t.Helper()
	var v string
	if err := f.store.Use(context.Background(), name, func(b []byte) error { v = string(b); return nil }); err != nil {
		t.Fatalf("Use(%s): %v", name, err)
	}
	return v
}

// checkErr checks that err is a refusal naming the secret and leaking no
// credential or value.
func checkErr(t *testing.T, err error, name string, secretsShown ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, name) {
		t.Errorf("error does not name secret %q: %v", name, err)
	}
	for _, s := range append(secretsShown, testAccessKey, testSecretKey, "session-token-strongroom",
		awstest.KeyID, awstest.SecretKey, awstest.SessionToken, "Authorization", "Signature=", "X-Amz-Security-Token") {
		if strings.Contains(msg, s) {
			t.Errorf("error contains %q: %v", s, err)
		}
	}
}

// TestRefusalsKeepLastGoodValue puts a value the provider must refuse at
// the backend, under a store serving a good one: the refresh fails with
// an error naming the secret and showing no value, and the store goes on
// serving the last good value.
func TestRefusalsKeepLastGoodValue(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testRefusals(t, memoryBackend()) })
	t.Run("file", func(t *testing.T) { testRefusals(t, fileBackend(t)) })
	t.Run("awssm", func(t *testing.T) { testRefusals(t, awssmBackend(t)) })
}

func testRefusals(t *testing.T, b backend) {
	good := "gv9xQ2mZ7kLp4wR"
	bigGood := strings.Repeat("B", 10000)
	cases := []struct {
		name    string
		big     bool
		corrupt func(t *testing.T, f *storeFixture, stored []byte) []byte
	}{
		{"wrong-key", false, func(t *testing.T, f *storeFixture, _ []byte) []byte {
			return encrypt(t, f.c, newKey(t, f.c), testContext, []byte("under-another-key"))
		}},
		{"wrong-key-envelope", true, func(t *testing.T, f *storeFixture, _ []byte) []byte {
			return encrypt(t, f.c, newKey(t, f.c), testContext, []byte(strings.Repeat("x", 5000)))
		}},
		{"wrong-context", false, func(t *testing.T, f *storeFixture, _ []byte) []byte {
			return encrypt(t, f.c, f.key, map[string]string{"app": "other"}, []byte("other-context"))
		}},
		{"wrong-context-envelope", true, func(t *testing.T, f *storeFixture, _ []byte) []byte {
			return encrypt(t, f.c, f.key, map[string]string{"app": "other"}, []byte(strings.Repeat("y", 5000)))
		}},
		{"truncated-envelope", true, func(t *testing.T, f *storeFixture, stored []byte) []byte {
			return stored[:len(stored)-10]
		}},
		{"unknown-version", true, func(t *testing.T, f *storeFixture, stored []byte) []byte {
			out := bytes.Clone(stored)
			out[4] = 9
			return out
		}},
		{"corrupt-ciphertext", false, func(t *testing.T, f *storeFixture, stored []byte) []byte {
			out := bytes.Clone(stored)
			out[len(out)-3] ^= 0x55
			return out
		}},
		// The data key of this envelope is cached by the first fetch: the
		// tag refuses the changed sealed data.
		{"corrupt-envelope-cached-key", true, func(t *testing.T, f *storeFixture, stored []byte) []byte {
			out := bytes.Clone(stored)
			out[len(out)-3] ^= 0x55
			return out
		}},
	}
	c := kmsClient(t)
	key := newKey(t, c)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newStore(t, c, key, b, true)
			want := good
			if tc.big {
				want = bigGood
			}
			stored := encrypt(t, f.c, f.key, testContext, []byte(want))
			if tc.big != strings.HasPrefix(string(stored), "SRKE") {
				t.Fatalf("big=%v but envelope=%v", tc.big, !tc.big)
			}
			f.put(t, "s", stored)
			name := "secret-" + tc.name
			f.add(t, name, "s")
			if got := f.get(t, name); got != want {
				t.Fatalf("first value: %d bytes", len(got))
			}
			f.put(t, "s", tc.corrupt(t, f, stored))
			err := f.store.Refresh(context.Background(), name)
			if !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("refresh: want ErrInvalid, got %v", err)
			}
			checkErr(t, err, name, want)
			t.Logf("refused: %v", err)
			if got := f.get(t, name); got != want {
				t.Fatalf("last good value not served (%d bytes)", len(got))
			}
		})
	}
}

// TestStoreSeesChange: a running store serves a value re-encrypted under
// the same key with new contents, put at the backend as another program
// would (the AWS SDK for Secrets Manager, a rename for files), once the
// inner provider's watch reports it, with a rotated event; small values
// and envelopes.
func TestStoreSeesChange(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testSeesChange(t, memoryBackend()) })
	t.Run("file", func(t *testing.T) { testSeesChange(t, fileBackend(t)) })
	t.Run("awssm", func(t *testing.T) { testSeesChange(t, awssmBackend(t)) })
}

func testSeesChange(t *testing.T, b backend) {
	c := kmsClient(t)
	key := newKey(t, c)
	for _, size := range []int{40, 9000} {
		f := newStore(t, c, key, b, true)
		first, second := strings.Repeat("1", size), strings.Repeat("2", size)
		f.put(t, "s", encrypt(t, c, key, testContext, []byte(first)))
		f.add(t, "db", "s")
		if got := f.get(t, "db"); got != first {
			t.Fatalf("%d bytes: first value not served", size)
		}
		events := make(chan secrets.Event, 10)
		cancel, err := f.store.Subscribe("db", func(e secrets.Event) { events <- e })
		if err != nil {
			t.Fatal(err)
		}
		f.put(t, "s", encrypt(t, c, key, testContext, []byte(second)))
		changed := time.Now()
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case e := <-events:
				if e.Kind == secrets.EventRotated {
					break wait
				}
			case <-deadline:
				t.Fatalf("%d bytes: no rotated event within 10 s", size)
			}
		}
		cancel()
		if got := f.get(t, "db"); got != second {
			t.Fatalf("%d bytes: the store serves the old value after the rotated event", size)
		}
		t.Logf("%d bytes: served %v after the change", size, time.Since(changed).Round(time.Millisecond))
	}
}

func TestAccessDeniedIsPermission(t *testing.T) {
	c := kmsClient(t)
	key := newKey(t, c)
	f := newStore(t, c, key, memoryBackend(), false)
	f.put(t, "s", encrypt(t, f.c, f.key, nil, []byte("v")))
	if _, err := f.c.DisableKey(context.Background(), &awskms.DisableKeyInput{KeyId: &f.key}); err != nil {
		t.Fatal(err)
	}
	err := f.store.Add(secrets.Spec{Name: "disabled", Ref: "kms+memory://s"})
	if err == nil {
		_, err = f.store.Get(context.Background(), "disabled")
	}
	if !errors.Is(err, secrets.ErrPermission) {
		t.Fatalf("want ErrPermission, got %v", err)
	}
	checkErr(t, err, "disabled")
}
