package kms_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/kms"
	"github.com/strongroom/strongroom/providers/memory"
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
