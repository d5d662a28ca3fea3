package kms_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/kms"
	"github.com/strongroom/strongroom/providers/memory"
)

// exampleEndpoint is the KMS endpoint of the example: set by TestExamples
// to a local-kms started for it.
var exampleEndpoint string

// Re-encrypt a secret under a new KMS key, then retire the old key. The
// value is written through kms+memory here; with files or Secrets Manager
// only the inner provider changes.
func ExampleReEncryptRef() {
	ctx := context.Background()
	client := awskms.New(awskms.Options{
		Region:       "eu-west-2",
		BaseEndpoint: aws.String(exampleEndpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example", ""),
	})
	oldKey, _ := client.CreateKey(ctx, &awskms.CreateKeyInput{})
	newKey, _ := client.CreateKey(ctx, &awskms.CreateKeyInput{})

	p, _ := kms.New(kms.Options{Client: client, Inner: memory.New(nil), InnerScheme: "memory", KeyID: *oldKey.KeyMetadata.Arn})
	defer p.Close()
	ref := "kms+memory://db-password?kms-context=app:billing"
	p.(providers.Writer).Write(ctx, ref, []byte("s3cr3t-password"))

	// Rotate the KMS key: re-encrypt, then disable the old key.
	if _, err := kms.ReEncryptRef(ctx, p, ref, *newKey.KeyMetadata.Arn); err != nil {
		fmt.Println(err)
		return
	}
	client.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: oldKey.KeyMetadata.KeyId})

	v, err := p.Fetch(ctx, ref)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Wipe()
	fmt.Println("still readable:", len(v.Data), "bytes")
	// Prints: still readable: 15 bytes
	// (It needs a KMS endpoint, so TestExamples runs it against local-kms
	// and checks what it prints; go test only compiles it.)
}
