package ssm

import (
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/internal/redacttest"
)

// TestRedactionEveryType renders a sample of every exported type, each
// holding the marker wherever it can (the credentials of Options.Config, a
// value whose member a fetch did not find, data Write refused), every way
// a program could print or log it.
func TestRedactionEveryType(t *testing.T) {
	const marker = "Qz8v-PLAINTEXT-MARKER-k4j7"
	c := startKumo(t)
	put(t, c, "/redact/json", `{"password":"`+marker+`"}`, types.ParameterTypeSecureString)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIA"+marker, marker, marker)}
	opts := Options{Client: c, Config: &cfg, PollInterval: time.Second, KeyID: "alias/app", Tier: types.ParameterTierAdvanced, Logger: slog.Default()}
	p := newProvider(t, c, &opts)
	_, memberErr := p.Fetch(t.Context(), Ref("/redact/json#/missing"))
	_, writeErr := p.Write(t.Context(), Ref("/redact/json"), []byte("not UTF-8 \xff "+marker))
	_, refErr := p.Fetch(t.Context(), "ssm:/redact/json#"+"\x01")
	for _, err := range []error{memberErr, writeErr, refErr} {
		if err == nil {
			t.Fatal("a call meant to fail succeeded")
		}
	}
	redacttest.Check(t, ".", map[string][]any{
		"Options":  {opts, &opts, struct{ O Options }{opts}},
		"Provider": {p, struct{ P *Provider }{p}, memberErr, writeErr, refErr},
	}, redacttest.Forms([]byte(marker)))
}
