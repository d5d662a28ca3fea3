package ssm

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awserr"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/providers/providertest"
)

// client returns a client of the emulator k made with cfg.
func client(k *awstest.Kumo, cfg aws.Config) *ssm.Client {
	return ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(k.URL) })
}

// startKumo starts an emulator for the test and returns a client of it.
func startKumo(t testing.TB) *ssm.Client {
	t.Helper()
	k := awstest.StartKumo(t)
	return client(k, k.Config())
}

// set makes name hold data, as another program would with the SDK: a new
// parameter is a SecureString, an existing one keeps its type.
func set(t testing.TB, c *ssm.Client, name string, data []byte) {
	t.Helper()
	put(t, c, name, string(data), types.ParameterTypeSecureString)
}

// put writes value to name with PutParameter, with type typ when it
// creates the parameter, and returns the new version number.
func put(t testing.TB, c *ssm.Client, name, value string, typ types.ParameterType) int64 {
	t.Helper()
	ctx := context.Background()
	out, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: &name, Value: &value, Type: typ})
	if awserr.Code(err) == "ParameterAlreadyExists" {
		out, err = c.PutParameter(ctx, &ssm.PutParameterInput{Name: &name, Value: &value, Overwrite: aws.Bool(true)})
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.Version
}

func remove(t testing.TB, c *ssm.Client, name string) {
	t.Helper()
	if _, err := c.DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: &name}); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	// One emulator for the whole suite (its goroutines must not count as
	// leaks of a sub-test); each Open names its parameters afresh.
	c := startKumo(t)
	// kumo's state lives as long as the process: -count=2 meets the
	// parameters of the first run.
	start, run := time.Now().UnixNano(), 0
	name := func(n string) string { return fmt.Sprintf("/conformance/%d/run%d/%s", start, run, n) }
	providertest.Run(t, providertest.Harness{
		Open: func(t *testing.T) providers.Provider {
			run++
			p, err := New(t.Context(), &Options{Client: c, PollInterval: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Ref:    func(t *testing.T, n string) string { return Ref(name(n)) },
		Set:    func(t *testing.T, n string, data []byte) { set(t, c, name(n), data) },
		Remove: func(t *testing.T, n string) { remove(t, c, name(n)) },
		InvalidRefs: []string{
			"ssm:", "ssm:a/b", "ssm:/a//b", "ssm:/a/", "ssm:/", "ssm:a b", "ssm:a:1", "ssm:a\x00b",
			"ssm:a?version=0", "ssm:a?version=01", "ssm:a?version=-1", "ssm:a?version=x",
			"ssm:a?version=99999999999999999999", "ssm:a?label=", "ssm:a?label=1st", "ssm:a?label=AWSlabel",
			"ssm:a?label=a:b", "ssm:a?bogus=1", "ssm:a?version=1&label=b", "ssm:a#", "ssm:a#/bad~2",
			"ssm:/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16",
		},
		Caps: providertest.Capabilities{
			Mutable: true, Watchable: true, Versioned: true, Writable: true, Deletable: true,
		},
		ErrorPrefix: prefix,
	})
}

// TestKumoDifferences records where kumo differs from AWS (see "Tested
// against" in the package documentation). A check that fails means kumo
// changed: test the real behaviour against it instead.
func TestKumoDifferences(t *testing.T) {
	c := startKumo(t)
	p := newProvider(t, c, nil)
	ctx := t.Context()
	put(t, c, "/kumo/db", "one", types.ParameterTypeSecureString)
	put(t, c, "/kumo/db", "two", "")

	t.Run("no version selectors", func(t *testing.T) {
		// AWS serves version 1 (it keeps 100 versions); kumo only the last.
		_, err := p.Fetch(ctx, Ref("/kumo/db?version=1"))
		if err == nil {
			t.Fatal("kumo now serves name:N: test that ?version=1 returns the old value")
		}
		if !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("Fetch of ?version=1: %v, want ErrNotFound", err)
		}
		if _, err := p.Fetch(ctx, Ref("/kumo/db?version=2")); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("Fetch of ?version=2, the current one: %v, want ErrNotFound from kumo", err)
		}
	})
	t.Run("no labels", func(t *testing.T) {
		_, err := c.LabelParameterVersion(ctx, &ssm.LabelParameterVersionInput{Name: aws.String("/kumo/db"), Labels: []string{"current"}})
		if err == nil {
			t.Fatal("kumo now serves LabelParameterVersion: test ?label= against it")
		}
		if _, err := p.Fetch(ctx, Ref("/kumo/db?label=current")); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("Fetch of ?label=: %v, want ErrNotFound", err)
		}
		if _, err := c.GetParameterHistory(ctx, &ssm.GetParameterHistoryInput{Name: aws.String("/kumo/db")}); err == nil {
			t.Error("kumo now serves GetParameterHistory")
		}
	})
	t.Run("two spellings of one level", func(t *testing.T) {
		// AWS takes "kumo-top" and "/kumo-top" for one parameter.
		put(t, c, "kumo-top", "v", types.ParameterTypeString)
		if _, err := p.Fetch(ctx, Ref("/kumo-top")); err == nil {
			t.Error("kumo now serves x as /x: test that a watch of one sees the other")
		}
		// The watcher lists both spellings, so it finds the parameter however it is written.
		states, complete, err := p.states(ctx, []string{key("/kumo-top")})
		if err != nil || !complete || states["kumo-top"] == "" {
			t.Errorf("the poller's view of /kumo-top: %v %v %v", states, complete, err)
		}
	})
	t.Run("hierarchy without its leading slash", func(t *testing.T) {
		v := "v"
		_, err := c.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("kumo/loose"), Value: &v, Type: types.ParameterTypeString, Overwrite: aws.Bool(true)})
		if err != nil {
			t.Errorf("kumo now refuses a/b as AWS does: %v", err)
		}
	})
	t.Run("tags outlive their parameter", func(t *testing.T) {
		const name = "/kumo/tagged"
		put(t, c, name, "v", types.ParameterTypeString)
		tag(t, c, name, "owner", "old")
		remove(t, c, name)
		put(t, c, name, "v", types.ParameterTypeString)
		v, err := p.Fetch(ctx, Ref(name))
		if err != nil {
			t.Fatal(err)
		}
		v.Wipe()
		if v.Labels["owner"] != "old" {
			t.Errorf("kumo now drops a deleted parameter's tags (labels %v)", v.Labels)
		}
	})
	t.Run("no encryption", func(t *testing.T) {
		out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/kumo/db")})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.Parameter.Value); got != "kms:alias/aws/ssm:two" {
			t.Errorf("kumo's SecureString without decryption: %q", got)
		}
	})
	t.Run("the name filter holds", func(t *testing.T) {
		out, err := c.DescribeParameters(ctx, &ssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{
			{Key: aws.String("Name"), Option: aws.String("Equals"), Values: []string{"/kumo/db"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Parameters) != 1 || aws.ToString(out.Parameters[0].Name) != "/kumo/db" || out.Parameters[0].KeyId != nil {
			t.Errorf("DescribeParameters with a Name filter: %d parameters", len(out.Parameters))
		}
	})
}
