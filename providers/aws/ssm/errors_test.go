package ssm

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
)

// TestErrorsCarryNoCredentials renders the errors of failed calls, against
// kumo and against a closed port, every way a program could print them
// (every fmt verb, slog, each error of the Unwrap chain), and looks for
// the configured access key id, secret key and session token, and for a
// signature header.
func TestErrorsCarryNoCredentials(t *testing.T) {
	c := startKumo(t)
	put(t, c, "/errors/list", "a,b", types.ParameterTypeStringList)
	dead := ssm.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(awstest.KeyID, awstest.SecretKey, awstest.SessionToken),
	}, func(o *ssm.Options) { o.BaseEndpoint = aws.String("http://127.0.0.1:1"); o.RetryMaxAttempts = 1 })
	for _, client := range []*ssm.Client{c, dead} {
		p, err := New(t.Context(), &Options{Client: client})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		_, e1 := p.Fetch(ctx, Ref("/errors/missing"))
		_, e2 := p.Fetch(ctx, Ref("/errors/list?version=1"))
		_, e3 := p.Write(ctx, Ref("/errors/new"), []byte("x"))
		e4 := p.Delete(ctx, Ref("/errors/missing"))
		_, e5 := p.Watch(ctx, Ref("/errors/missing"), func() {})
		_, e6 := p.Fetch(ctx, Ref("/errors/list#/member"))
		errs := []error{e1, e2, e3, e4, e5, e6}
		for i, err := range errs {
			if err == nil {
				continue
			}
			out := redacttest.Render(err)
			for _, bad := range []string{awstest.KeyID, awstest.SecretKey, awstest.SessionToken, "Signature=", "X-Amz-Security-Token", "Authorization"} {
				if strings.Contains(out, bad) {
					t.Errorf("error %d contains %q: %s", i+1, bad, out)
				}
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %d lacks the prefix: %v", i+1, err)
			}
		}
		if client == c {
			for i, err := range []error{e1, e2, e4} {
				if !errors.Is(err, providers.ErrNotFound) {
					t.Errorf("call %d on a missing parameter: %v, want ErrNotFound", i+1, err)
				}
			}
		} else {
			for i, err := range errs {
				if err == nil || !strings.Contains(err.Error(), "request failed") {
					t.Errorf("call %d against a closed port: %v", i+1, err)
				}
			}
			t.Logf("against a closed port: %v", e1)
		}
		p.Close()
		if _, err := p.Fetch(ctx, Ref("/errors/list")); !errors.Is(err, providers.ErrClosed) {
			t.Errorf("Fetch after Close: %v", err)
		}
	}
}
