package kms_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/kms"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/providers/providertest"
	"github.com/strongroom/strongroom/secrets"
)

const (
	testAccessKey = "AKIDSTRONGROOMTEST"
	testSecretKey = "strongroom-test-secret-access-key-Zq9"
)

// kmsClient starts local-kms for t and returns a client for it.
func kmsClient(t testing.TB) *awskms.Client {
	t.Helper()
	srv := testservers.StartLocalKMS(t)
	return awskms.New(awskms.Options{
		Region:       testservers.LocalKMSRegion,
		BaseEndpoint: aws.String(srv.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, "session-token-strongroom"),
	})
}

func newKey(t testing.TB, c *awskms.Client) string {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.Arn
}

func encrypt(t testing.TB, c *awskms.Client, key string, ec map[string]string, data []byte) []byte {
	t.Helper()
	blob, err := kms.Encrypt(context.Background(), c, key, ec, data)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

var testContext = map[string]string{"app": "web", "env": "test"}

func TestConformanceMemory(t *testing.T) {
	c := kmsClient(t)
	key := newKey(t, c)
	var mem *memory.Provider
	ctxParam := "?kms-context=" + kms.FormatContext(testContext)
	providertest.Run(t, providertest.Harness{
		Open: func(t *testing.T) providers.Provider {
			mem = memory.New(nil)
			p, err := kms.New(kms.Options{Client: c, Inner: mem, InnerScheme: "memory", KeyID: key, DecryptKeyIDs: []string{key}})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Ref: func(t *testing.T, name string) string { return "kms+memory://" + name + ctxParam },
		Set: func(t *testing.T, name string, data []byte) {
			mem.Set(name, encrypt(t, c, key, testContext, data), nil)
		},
		Remove: func(t *testing.T, name string) { mem.Remove(name) },
		InvalidRefs: []string{
			"kms+memory:", "kms+memory://", "kms+memory://a?kms-context=", "kms+memory://a?kms-context=k",
			"kms+memory://a?kms-other=1", "kms+memory://a?kms-context=k:v,k:v",
		},
		Caps: providertest.Capabilities{
			Mutable: true, Watchable: true, Versioned: true,
			Writable: true, Revocable: true, Deletable: true, Conditional: true,
		},
		ErrorPrefix: "providers/aws/kms: ",
	})
}

// storeFixture is a store over a kms+memory provider.
type storeFixture struct {
	c     *awskms.Client
	key   string
	mem   *memory.Provider
	store *secrets.Store
}

func newStore(t *testing.T, pin bool) *storeFixture {
	var opts kms.Options
	t.Helper()
	f := &storeFixture{c: kmsClient(t)}
	f.key = newKey(t, f.c)
	f.mem = memory.New(nil)
	opts.Client, opts.Inner, opts.InnerScheme = f.c, f.mem, "memory"
	if opts.KeyID == "" {
		opts.KeyID = f.key
	}
	if pin {
		opts.DecryptKeyIDs = []string{f.key}
	}
	p, err := kms.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.store, err = secrets.Open(context.Background(), &secrets.Options{Providers: map[string]providers.Provider{"kms+memory": p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	return f
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
	for _, s := range append(secretsShown, testAccessKey, testSecretKey, "session-token-strongroom", "Authorization", "Signature=", "X-Amz-Security-Token") {
		if strings.Contains(msg, s) {
			t.Errorf("error contains %q: %v", s, err)
		}
	}
}

func TestRefusalsKeepLastGoodValue(t *testing.T) {
	good := "gv9xQ2mZ7kLp4wR"
	bigGood := strings.Repeat("B", 10000)
	cases := []struct {
		name    string
		big     bool
		corrupt func(t *testing.T, f *storeFixture, stored []byte) []byte
		kind    error
	}{
		{"wrong-key", false, func(t *testing.T, f *storeFixture, _ []byte) []byte {
			return encrypt(t, f.c, newKey(t, f.c), testContext, []byte("under-another-key"))
		}, secrets.ErrInvalid},
		{"wrong-key-envelope", true, func(t *testing.T, f *storeFixture, _ []byte) []byte {
			return encrypt(t, f.c, newKey(t, f.c), testContext, []byte(strings.Repeat("x", 5000)))
		}, secrets.ErrInvalid},
		{"wrong-context", false, func(t *testing.T, f *storeFixture, _ []byte) []byte {
			return encrypt(t, f.c, f.key, map[string]string{"app": "other"}, []byte("other-context"))
		}, secrets.ErrInvalid},
		{"wrong-context-envelope", true, func(t *testing.T, f *storeFixture, _ []byte) []byte {
			return encrypt(t, f.c, f.key, map[string]string{"app": "other"}, []byte(strings.Repeat("y", 5000)))
		}, secrets.ErrInvalid},
		{"truncated-envelope", true, func(t *testing.T, f *storeFixture, stored []byte) []byte {
			return stored[:len(stored)-10]
		}, secrets.ErrInvalid},
		{"unknown-version", true, func(t *testing.T, f *storeFixture, stored []byte) []byte {
			out := bytes.Clone(stored)
			out[4] = 9
			return out
		}, secrets.ErrInvalid},
		{"corrupt-ciphertext", false, func(t *testing.T, f *storeFixture, stored []byte) []byte {
			out := bytes.Clone(stored)
			out[len(out)-3] ^= 0x55
			return out
		}, secrets.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newStore(t, true)
			want := good
			if tc.big {
				want = bigGood
			}
			stored := encrypt(t, f.c, f.key, testContext, []byte(want))
			if tc.big != strings.HasPrefix(string(stored), "SRKE") {
				t.Fatalf("big=%v but envelope=%v", tc.big, !tc.big)
			}
			f.mem.Set("s", stored, nil)
			name := "secret-" + tc.name
			if err := f.store.Add(secrets.Spec{Name: name, Ref: "kms+memory://s?kms-context=" + kms.FormatContext(testContext)}); err != nil {
				t.Fatal(err)
			}
			if got := f.get(t, name); got != want {
				t.Fatalf("first value: %d bytes", len(got))
			}
			f.mem.Set("s", tc.corrupt(t, f, stored), nil)
			err := f.store.Refresh(context.Background(), name)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("refresh: want %v, got %v", tc.kind, err)
			}
			checkErr(t, err, name, want)
			t.Logf("refused: %v", err)
			if got := f.get(t, name); got != want {
				t.Fatalf("last good value not served (%d bytes)", len(got))
			}
		})
	}
}

func TestAccessDeniedIsPermission(t *testing.T) {
	f := newStore(t, false)
	f.mem.Set("s", encrypt(t, f.c, f.key, nil, []byte("v")), nil)
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

func TestWriteLargeGoesThroughEnvelope(t *testing.T) {
	c := kmsClient(t)
	key := newKey(t, c)
	mem := memory.New(nil)
	p, err := kms.New(kms.Options{Client: c, Inner: mem, InnerScheme: "memory", KeyID: key, Base64: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for _, size := range []int{1, kms.MaxDirect, kms.MaxDirect + 1, 1 << 20} {
		data := bytes.Repeat([]byte{'z'}, size)
		ref := "kms+memory://big?kms-context=k:v"
		if _, err := p.(providers.Writer).Write(ctx, ref, data); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		raw, err := mem.Fetch(ctx, "memory://big")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw.Data, []byte("zzzz")) {
			t.Fatalf("%d bytes: stored in the clear", size)
		}
		v, err := p.Fetch(ctx, ref)
		if err != nil || !bytes.Equal(v.Data, data) {
			t.Fatalf("%d bytes: fetch %v", size, err)
		}
		if v.Version != raw.Version {
			t.Fatalf("version %q, inner %q", v.Version, raw.Version)
		}
		if _, err := p.Fetch(ctx, "kms+memory://big?kms-context=k:w"); !errors.Is(err, providers.ErrInvalid) {
			t.Fatalf("%d bytes, wrong context: %v", size, err)
		}
	}
}

func TestReEncryptThenRetireOldKey(t *testing.T) {
	for _, size := range []int{100, 9000} {
		c := kmsClient(t)
		oldKey, newKeyID := newKey(t, c), newKey(t, c)
		mem := memory.New(nil)
		p, err := kms.New(kms.Options{Client: c, Inner: mem, InnerScheme: "memory", KeyID: oldKey})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		ref := "kms+memory://rot?kms-context=team:payments"
		data := bytes.Repeat([]byte{'q'}, size)
		if _, err := p.(providers.Writer).Write(ctx, ref, data); err != nil {
			t.Fatal(err)
		}
		if _, err := kms.ReEncryptRef(ctx, p, ref, newKeyID); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: &oldKey}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: &oldKey, PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
		v, err := p.Fetch(ctx, ref)
		if err != nil || !bytes.Equal(v.Data, data) {
			t.Fatalf("%d bytes after rotation: %v", size, err)
		}
		// Pinned to the old key only, the new ciphertext is refused.
		pinned, _ := kms.New(kms.Options{Client: c, Inner: mem, InnerScheme: "memory", DecryptKeyIDs: []string{oldKey}})
		if _, err := pinned.Fetch(ctx, ref); !errors.Is(err, providers.ErrInvalid) && !errors.Is(err, providers.ErrPermission) {
			t.Fatalf("pinned to the old key: %v", err)
		}
		p.Close()
	}
}

func TestContextHonoured(t *testing.T) {
	c := kmsClient(t)
	key := newKey(t, c)
	mem := memory.New(nil)
	mem.Set("s", encrypt(t, c, key, nil, []byte("v")), nil)
	p, _ := kms.New(kms.Options{Client: c, Inner: mem, InnerScheme: "memory"})
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if _, err := p.Fetch(ctx, "kms+memory://s"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
}

// TestExamples runs the examples, which need a KMS endpoint, against a
// local-kms, and checks what they print.
func TestExamples(t *testing.T) {
	srv := testservers.StartLocalKMS(t)
	exampleEndpoint = srv.Endpoint
	defer func() { exampleEndpoint = "" }()
	t.Run("ReEncryptRef", func(t *testing.T) {
		old := captureExample(t, ExampleReEncryptRef)
		if old != "still readable: 15 bytes\n" {
			t.Fatalf("example printed %q", old)
		}
	})
}

// captureExample runs fn with os.Stdout redirected and returns its output.
func captureExample(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	fn()
	os.Stdout = stdout
	w.Close()
	return <-done
}
