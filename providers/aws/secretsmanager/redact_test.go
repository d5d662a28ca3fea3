package secretsmanager

import (
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/strongroom/strongroom/internal/redacttest"
)

// TestRedactionEveryType renders a sample of every exported type, each
// holding the marker wherever it can (the credentials of Options.Config, a
// value whose member a fetch did not find), every way a program could
// print or log it.
func TestRedactionEveryType(t *testing.T) {
	const marker = "Qz8v-PLAINTEXT-MARKER-k4j7"
	c := startKumo(t)
	set(t, c, "redact/json", []byte(`{"password":"`+marker+`"}`))
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIA"+marker, marker, marker)}
	opts := Options{Client: c, Config: &cfg, PollInterval: time.Second, ListSecrets: true, Logger: slog.Default()}
	p, err := New(t.Context(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	stop, err := p.Watch(t.Context(), Ref("redact/json"), func() {})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	_, memberErr := p.Fetch(t.Context(), Ref("redact/json#/missing"))
	_, notJSONErr := p.Fetch(t.Context(), Ref("redact/json#/password/deeper"))
	for _, err := range []error{memberErr, notJSONErr} {
		if err == nil {
			t.Fatal("a call meant to fail succeeded")
		}
	}
	redacttest.Check(t, ".", map[string][]any{
		"Options":  {opts, &opts, struct{ O Options }{opts}},
		"Provider": {p, struct{ P *Provider }{p}, memberErr, notJSONErr},
	}, redacttest.Forms([]byte(marker)))
}
