package ssm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/sivchari/kumo"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/ssm"
	"github.com/strongroom/strongroom/secrets"
)

// emulator starts kumo, an AWS emulator, and returns a Parameter Store
// client of it. Against AWS, ssm.New(ctx, nil) makes a client from the
// default configuration instead.
func emulator() (*awsssm.Client, func()) {
	srv := kumo.NewServer()
	client := awsssm.NewFromConfig(aws.Config{
		Region:      "eu-west-2",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example", ""),
	}, func(o *awsssm.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return client, srv.Close
}

// Write a parameter (a new SecureString), read it back (its Version is the
// version number and the time AWS made it), and delete it.
func Example() {
	ctx := context.Background()
	client, stop := emulator()
	defer stop()

	p, err := ssm.New(ctx, &ssm.Options{Client: client})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	ref := ssm.Ref("/example/billing/db-password")
	if _, err := p.Write(ctx, ref, []byte("s3cr3t-password")); err != nil {
		fmt.Println(err)
		return
	}
	v, err := p.Fetch(ctx, ref)
	if err != nil {
		fmt.Println(err)
		return
	}
	number, _, _ := strings.Cut(v.Version, "@")
	fmt.Println("version", number, "holds", len(v.Data), "bytes")
	v.Wipe()

	// Delete is final: Parameter Store has no recovery window.
	if err := p.Delete(ctx, ref); err != nil {
		fmt.Println(err)
		return
	}
	_, err = p.Fetch(ctx, ref)
	fmt.Println("after Delete:", errors.Is(err, providers.ErrNotFound))
	// Output:
	// version 1 holds 15 bytes
	// after Delete: true
}

// A store serves a parameter, and sees it change within the poll
// interval (a minute unless Options.PollInterval says otherwise).
func Example_store() {
	ctx := context.Background()
	client, stop := emulator()
	defer stop()
	client.PutParameter(ctx, &awsssm.PutParameterInput{
		Name: aws.String("/example/payments/api-key"), Value: aws.String("key-1"), Type: "SecureString", Overwrite: aws.Bool(true)})

	p, err := ssm.New(ctx, &ssm.Options{Client: client})
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{ssm.Scheme: p}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close() // closes p too
	store.Add(secrets.Spec{Name: "api-key", Ref: ssm.Ref("/example/payments/api-key"), Owner: "payments"})
	if err := store.Ready(ctx); err != nil {
		fmt.Println(err)
		return
	}
	store.Use(ctx, "api-key", func(key []byte) error {
		fmt.Println("serving a key of", len(key), "bytes")
		return nil
	})
	// Output: serving a key of 5 bytes
}
