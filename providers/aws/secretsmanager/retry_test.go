package secretsmanager

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/secrets"
)

// TestRetries: throttling and 5xx answers are retried by the SDK's retryer
// within one fetch; a fetch that exhausts its attempts fails without a
// sentinel that would stop the store (not ErrNotFound, ErrPermission or
// ErrInvalid), and the store's own backoff tries again, serving the last
// good value meanwhile.
func TestRetries(t *testing.T) {
	ctx := context.Background()
	k := awstest.StartKumo(t)
	cfg, calls := k.CountingConfig()
	client := sm.NewFromConfig(cfg, func(o *sm.Options) { o.BaseEndpoint = aws.String(k.URL) })
	set(t, client, "retry/db", []byte("v1"))
	p, err := New(ctx, &Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	for _, f := range []struct {
		status int
		code   string
	}{{503, "ServiceUnavailable"}, {500, "InternalServiceError"}, {400, "ThrottlingException"}} {
		k.Fail("GetSecretValue", 2, f.status, f.code)
		calls.Reset()
		v, err := p.Fetch(ctx, Ref("retry/db"))
		if err != nil || string(v.Data) != "v1" {
			t.Errorf("%d %s twice: %v, %v", f.status, f.code, v, err)
		}
		if n := calls.Count("GetSecretValue"); n != 3 {
			t.Errorf("%d %s twice: %d attempts, want 3", f.status, f.code, n)
		}
	}

	k.Fail("GetSecretValue", 3, 400, "ThrottlingException")
	_, err = p.Fetch(ctx, Ref("retry/db"))
	if err == nil || errors.Is(err, providers.ErrNotFound) || errors.Is(err, providers.ErrPermission) || errors.Is(err, providers.ErrInvalid) {
		t.Errorf("throttled past the SDK's three attempts: %v, want a plain failure", err)
	}
	t.Logf("throttled past the SDK's attempts: %v", err)

	store := awstest.Store(t, Scheme, p, secrets.Spec{Name: "db", Ref: Ref("retry/db"),
		Refresh: secrets.RefreshPolicy{MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}})
	set(t, client, "retry/db", []byte("v2"))
	k.Fail("GetSecretValue", 5, 503, "ServiceUnavailable")
	calls.Reset()
	if err := store.Refresh(ctx, "db"); err == nil {
		t.Error("a refresh through three 503s succeeded")
	}
	var got string
	if err := store.Use(ctx, "db", func(v []byte) error { got = string(v); return nil }); err != nil || got != "v1" {
		t.Errorf("during the failures: %q, %v; want the last good value", got, err)
	}
	for deadline := time.Now().Add(10 * time.Second); got != "v2"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the store's backoff did not bring v2 within 10 s (%d attempts)", calls.Count("GetSecretValue"))
		}
		store.Use(ctx, "db", func(v []byte) error { got = string(v); return nil })
	}
	if n := calls.Count("GetSecretValue"); n != 6 {
		t.Errorf("%d attempts for five failures, want 6: three by the SDK, then the store's retry, three more", n)
	}
}
