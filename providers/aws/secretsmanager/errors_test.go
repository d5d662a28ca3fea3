package secretsmanager

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/strongroom/strongroom/providers"
)

// TestErrorsCarryNoCredentials renders the errors of failed calls, against
// kumo and against a closed port, and looks for the configured access key
// id, secret key and session token, and for a signature header.
func TestErrorsCarryNoCredentials(t *testing.T) {
	c := startKumo(t)
	dead := sm.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, testToken),
	}, func(o *sm.Options) { o.BaseEndpoint = aws.String("http://127.0.0.1:1"); o.RetryMaxAttempts = 1 })
	for _, client := range []*sm.Client{c, dead} {
		p, err := New(t.Context(), &Options{Client: client})
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		_, e1 := p.Fetch(ctx, Ref("missing"))
		_, e2 := p.Write(ctx, Ref("arn:aws:secretsmanager:us-east-1:1:secret:nope"), []byte("x"))
		e3 := p.Delete(ctx, Ref("missing"))
		_, e4 := p.WriteIf(ctx, Ref("missing"), []byte("x"), "v1")
		_, e5 := p.Watch(ctx, Ref("missing"), func() {})
		for i, err := range []error{e1, e2, e3, e4, e5} {
			if err == nil {
				continue
			}
			for _, verb := range []string{"%v", "%+v", "%#v"} {
				msg := fmt.Sprintf(verb, err)
				for _, bad := range []string{testKeyID, testSecret, testToken, "Signature=", "X-Amz-Security-Token", "Authorization"} {
					if strings.Contains(msg, bad) {
						t.Errorf("error %d (%s) contains %q: %s", i, verb, bad, msg)
					}
				}
			}
		}
		if client == c && !errors.Is(e1, providers.ErrNotFound) {
			t.Errorf("Fetch of a missing secret: %v, want ErrNotFound", e1)
		}
		p.Close()
	}
}
