package ssm

import (
	"context"
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
	run := 0
	name := func(n string) string { return fmt.Sprintf("/conformance/run%d/%s", run, n) }
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
