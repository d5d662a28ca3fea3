package secretsmanager_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/sivchari/kumo"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/kms"
	"github.com/strongroom/strongroom/providers/aws/secretsmanager"
	"github.com/strongroom/strongroom/providers/aws/ssm"
	"github.com/strongroom/strongroom/secrets"
)

// A store serves one member of a JSON secret, and a rotation made with the
// AWS SDK (as a rotation Lambda would) within the poll interval. Here
// against kumo, an AWS emulator; against AWS, secretsmanager.New(ctx,
// nil) uses the standard credential chain.
func Example() {
	ctx := context.Background()
	srv := kumo.NewServer()
	defer srv.Close()
	client := awssm.NewFromConfig(aws.Config{
		Region:      "eu-west-2",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example", ""),
		// One connection: kumo is not safe for concurrent requests.
		HTTPClient: &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}},
	}, func(o *awssm.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	client.CreateSecret(ctx, &awssm.CreateSecretInput{Name: aws.String("example/db"),
		SecretString: aws.String(`{"username":"app","password":"first-password"}`)})

	p, err := secretsmanager.New(ctx, &secretsmanager.Options{Client: client, PollInterval: 100 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{secretsmanager.Scheme: p}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	store.Add(secrets.Spec{Name: "db-password", Ref: "awssm:example/db#/password"})
	if err := store.Ready(ctx); err != nil {
		fmt.Println(err)
		return
	}
	rotated := make(chan struct{}, 1)
	cancel, _ := store.Subscribe("db-password", func(e secrets.Event) {
		if e.Kind == secrets.EventRotated {
			rotated <- struct{}{}
		}
	})
	defer cancel()

	client.PutSecretValue(ctx, &awssm.PutSecretValueInput{SecretId: aws.String("example/db"),
		SecretString: aws.String(`{"username":"app","password":"second-password"}`)})
	<-rotated
	store.Use(ctx, "db-password", func(v []byte) error {
		fmt.Println("serving a password of", len(v), "bytes")
		return nil
	})
	// Output: serving a password of 15 bytes
}

// The three AWS providers in one store, as the README shows them. It needs
// AWS credentials, so go test compiles it and does not run it.
func Example_aws() {
	ctx := context.Background()
	// The standard credential chain: environment, shared config and
	// credentials files, SSO, web identity, IMDS.
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	sm, err := secretsmanager.New(ctx, &secretsmanager.Options{Config: &cfg})
	if err != nil {
		log.Fatal(err)
	}
	params, err := ssm.New(ctx, &ssm.Options{Config: &cfg})
	if err != nil {
		log.Fatal(err)
	}
	// kms+awssm: Secrets Manager holds a KMS ciphertext, decrypted here.
	inner, err := secretsmanager.New(ctx, &secretsmanager.Options{Config: &cfg})
	if err != nil {
		log.Fatal(err)
	}
	sealed, err := kms.New(kms.Options{Client: awskms.NewFromConfig(cfg), Inner: inner, InnerScheme: "awssm"})
	if err != nil {
		log.Fatal(err)
	}
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{
		"awssm": sm, "ssm": params, "kms+awssm": sealed,
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	store.Add(secrets.Spec{Name: "db-password", Ref: "awssm:prod/db#/password", MaxStale: 10 * time.Minute})
	store.Add(secrets.Spec{Name: "api-key", Ref: "ssm:/prod/billing/api-key"})
	store.Add(secrets.Spec{Name: "signing-key", Ref: "kms+awssm:prod/signing?kms-context=app:billing"})
	if err := store.Ready(ctx); err != nil {
		log.Fatal(err)
	}
}
