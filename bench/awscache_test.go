package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"
)

// stubSecretsManager answers the two calls the cache makes with a fixed
// 32-byte secret, and counts them, so that the benchmark can show it timed
// cache hits only. It is safe for concurrent use.
type stubSecretsManager struct {
	secret    string
	describes atomic.Int64
	gets      atomic.Int64
}

var _ secretcache.SecretsManagerAPIClient = (*stubSecretsManager)(nil)

const stubVersion = "v1"

var errStub = errors.New("bench: not implemented by the stub")

func (s *stubSecretsManager) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	s.describes.Add(1)
	return &secretsmanager.DescribeSecretOutput{
		Name:               in.SecretId,
		VersionIdsToStages: map[string][]string{stubVersion: {"AWSCURRENT"}},
	}, nil
}

func (s *stubSecretsManager) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.gets.Add(1)
	secret, version := s.secret, stubVersion
	return &secretsmanager.GetSecretValueOutput{
		Name:          in.SecretId,
		SecretString:  &secret,
		VersionId:     &version,
		VersionStages: []string{"AWSCURRENT"},
	}, nil
}

func (s *stubSecretsManager) CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	return nil, errStub
}

func (s *stubSecretsManager) DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	return nil, errStub
}

func (s *stubSecretsManager) ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	return nil, errStub
}

func (s *stubSecretsManager) UpdateSecret(context.Context, *secretsmanager.UpdateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretOutput, error) {
	return nil, errStub
}

// newAWSCache returns a cache over the stub, primed with secretName, and
// checks when b ends that the timed reads reached the stub no more than the
// priming read did (the default TTL is one hour).
func newAWSCache(b *testing.B) *secretcache.Cache {
	b.Helper()
	stub := &stubSecretsManager{secret: string(value32())}
	cache, err := secretcache.New(func(c *secretcache.Cache) { c.Client = stub })
	if err != nil {
		b.Fatal(err)
	}
	s, err := cache.GetSecretString(secretName)
	if err != nil {
		b.Fatal(err)
	}
	checkLen(b, "Cache.GetSecretString", len(s))
	b.Cleanup(func() {
		if d, g := stub.describes.Load(), stub.gets.Load(); d != 1 || g != 1 {
			b.Errorf("stub saw %d DescribeSecret and %d GetSecretValue calls; want 1 and 1 (cache misses were timed)", d, g)
		}
	})
	return cache
}

// BenchmarkAWSCacheGetSecretString is a cache hit in the AWS Secrets
// Manager caching client; the backend is a stub that the hits never reach.
func BenchmarkAWSCacheGetSecretString(b *testing.B) {
	cache := newAWSCache(b)
	b.ReportAllocs()
	var acc byte
	for b.Loop() {
		s, err := cache.GetSecretString(secretName)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(s); i++ {
			acc ^= s[i]
		}
	}
	sink.Add(uint64(acc))
}

func BenchmarkAWSCacheGetSecretStringParallel(b *testing.B) {
	cache := newAWSCache(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var acc byte
		for pb.Next() {
			s, err := cache.GetSecretString(secretName)
			if err != nil {
				b.Error(err)
				return
			}
			for i := 0; i < len(s); i++ {
				acc ^= s[i]
			}
		}
		sink.Add(uint64(acc))
	})
}
