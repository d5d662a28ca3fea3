package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/providers/providertest"
)

// Fake credentials the tests look for in every error.
const (
	testKeyID  = awstest.KeyID
	testSecret = awstest.SecretKey
	testToken  = awstest.SessionToken
)

// startKumo starts an emulator for the test and returns a client of it.
func startKumo(t testing.TB) *sm.Client {
	t.Helper()
	k := awstest.StartKumo(t)
	return sm.NewFromConfig(k.Config(), func(o *sm.Options) { o.BaseEndpoint = aws.String(k.URL) })
}

// set makes name hold data, as another program would with the SDK.
func set(t testing.TB, c *sm.Client, name string, data []byte) {
	t.Helper()
	ctx := context.Background()
	s := string(data)
	_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &name, SecretString: &s})
	if err == nil {
		return
	}
	if codeOf(err) == "InvalidRequestException" { // scheduled for deletion
		forceDelete(t, c, name)
	} else if codeOf(err) != "ResourceNotFoundException" {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: &name, SecretString: &s}); err != nil {
		t.Fatal(err)
	}
}

func forceDelete(t testing.TB, c *sm.Client, name string) {
	t.Helper()
	_, err := c.DeleteSecret(context.Background(), &sm.DeleteSecretInput{SecretId: &name, ForceDeleteWithoutRecovery: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
}

// noRevoke hides Revoke, which kumo cannot serve (no
// UpdateSecretVersionStage), from the conformance suite.
type noRevoke struct{ p *Provider }

func (n noRevoke) Fetch(ctx context.Context, ref string) (*providers.Value, error) {
	return n.p.Fetch(ctx, ref)
}
func (n noRevoke) Close() error { return n.p.Close() }
func (n noRevoke) Watch(ctx context.Context, ref string, f func()) (func(), error) {
	return n.p.Watch(ctx, ref, f)
}
func (n noRevoke) Write(ctx context.Context, ref string, d []byte) (string, error) {
	return n.p.Write(ctx, ref, d)
}
func (n noRevoke) WriteIf(ctx context.Context, ref string, d []byte, v string) (string, error) {
	return n.p.WriteIf(ctx, ref, d, v)
}
func (n noRevoke) Delete(ctx context.Context, ref string) error { return n.p.Delete(ctx, ref) }

func TestConformance(t *testing.T) {
	// One emulator for the whole suite (its goroutines must not count as
	// leaks of a sub-test); each Open names its secrets afresh.
	c := startKumo(t)
	run := 0
	name := func(n string) string { return fmt.Sprintf("run%d/%s", run, n) }
	providertest.Run(t, providertest.Harness{
		Open: func(t *testing.T) providers.Provider {
			run++
			p, err := New(t.Context(), &Options{Client: c, PollInterval: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return noRevoke{p}
		},
		Ref:    func(t *testing.T, n string) string { return Ref(name(n)) },
		Set:    func(t *testing.T, n string, data []byte) { set(t, c, name(n), data) },
		Remove: func(t *testing.T, n string) { forceDelete(t, c, name(n)) },
		InvalidRefs: []string{
			"awssm:", "awssm:/abs", "awssm:a b", "awssm:a?stage=", "awssm:a?bogus=1",
			"awssm:a?stage=x y", "awssm:a#", "awssm:a#/bad~2", "awssm:a\x00b",
			"awssm:arn:aws:iam::1:role/x",
		},
		Caps: providertest.Capabilities{
			Mutable: true, Watchable: true, Versioned: true,
			Writable: true, Deletable: true, Conditional: true,
		},
		ErrorPrefix: prefix,
	})
}

// TestRevokeKumo records what kumo does with Revoke: it has no
// UpdateSecretVersionStage, so the call fails and the version stays.
func TestRevokeKumo(t *testing.T) {
	c := startKumo(t)
	p, err := New(t.Context(), &Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	set(t, c, "r", []byte("one"))
	set(t, c, "r", []byte("two"))
	v, err := p.Fetch(t.Context(), Ref("r"))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Revoke(t.Context(), Ref("r"), v.Version)
	t.Logf("Revoke against kumo: %v", err)
	if err == nil {
		t.Fatal("kumo now serves UpdateSecretVersionStage: make Revocable part of the conformance run")
	}
	if err := p.Revoke(t.Context(), Ref("r"), "no-such-version"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Revoke of an unknown version: %v, want ErrNotFound", err)
	}
}
