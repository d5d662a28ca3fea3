package kms_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/providers/aws/kms"
	"github.com/strongroom/strongroom/providers/aws/secretsmanager"
	"github.com/strongroom/strongroom/providers/env"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/providers/providertest"
)

// backend is an inner provider that a kms+ provider is tested over, and
// the means to change its values as another program would.
type backend struct {
	scheme string
	// open returns a new inner provider; put and remove act on the
	// backend of the latest one.
	open func(t *testing.T) providers.Provider
	// ref returns the inner reference of the secret called name.
	ref func(name string) string
	// put stores a ciphertext as the secret called name.
	put    func(t *testing.T, name string, stored []byte)
	remove func(t *testing.T, name string)
	// text: the backend holds text, so ciphertexts are stored in base64.
	text bool
	// invalid are inner references the inner provider refuses.
	invalid []string
	caps    providertest.Capabilities
}

// store returns the form of the ciphertext b keeps.
func (b backend) store(blob []byte) []byte {
	if b.text {
		return []byte(base64.StdEncoding.EncodeToString(blob))
	}
	return blob
}

func memoryBackend() backend {
	var mem *memory.Provider
	return backend{
		scheme: "memory",
		open:   func(*testing.T) providers.Provider { mem = memory.New(nil); return mem },
		ref:    memory.Ref,
		put:    func(_ *testing.T, name string, stored []byte) { mem.Set(name, stored, nil) },
		remove: func(_ *testing.T, name string) { mem.Remove(name) },
		caps: providertest.Capabilities{
			Mutable: true, Watchable: true, Versioned: true,
			Writable: true, Revocable: true, Deletable: true, Conditional: true,
		},
	}
}

// fileBackend keeps each secret in a file of a directory of t's, named by
// absolute references; put replaces the file by a rename, as a deployment
// tool would.
func fileBackend(t *testing.T) backend {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	return backend{
		scheme: "file",
		open: func(t *testing.T) providers.Provider {
			p, err := file.New(&file.Options{PollInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		ref: func(name string) string { return "file://" + filepath.ToSlash(path(name)) },
		put: func(t *testing.T, name string, stored []byte) {
			tmp := path(".tmp-" + name)
			if err := os.WriteFile(tmp, stored, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path(name)); err != nil {
				t.Fatal(err)
			}
		},
		remove: func(t *testing.T, name string) {
			if err := os.Remove(path(name)); err != nil {
				t.Fatal(err)
			}
		},
		invalid: []string{"file:alpha", "file://example.com/alpha", "file://" + filepath.ToSlash(dir) + "/alpha?format=bogus"},
		caps:    providertest.Capabilities{Mutable: true, Watchable: true, Versioned: true, Writable: true, Deletable: true, Conditional: true},
	}
}

// envBackend keeps each secret, in base64, in an environment variable set
// with t.Setenv (restored when the sub-test ends). The env provider only
// reads.
func envBackend() backend {
	variable := func(name string) string { return "STRONGROOM_KMSTEST_" + strings.ToUpper(name) }
	return backend{
		scheme: "env",
		open:   func(*testing.T) providers.Provider { return env.New(nil) },
		ref:    func(name string) string { return env.Ref(variable(name)) },
		put:    func(t *testing.T, name string, stored []byte) { t.Setenv(variable(name), string(stored)) },
		remove: func(t *testing.T, name string) {
			t.Setenv(variable(name), "") // registers the restore
			if err := os.Unsetenv(variable(name)); err != nil {
				t.Fatal(err)
			}
		},
		text:    true,
		invalid: []string{"env://1NAME", "env://NA-ME", "env:///NAME"},
		caps:    providertest.Capabilities{Mutable: true, Versioned: true},
	}
}

// awssmBackend keeps each secret, in base64 (as the AWS CLI prints a
// CiphertextBlob), in AWS Secrets Manager emulated by kumo, one emulator
// for all of t; each open names its secrets afresh. The inner provider
// deletes at once (ForceDelete), so that put can create the secret again,
// and hides Revoke, which kumo cannot serve (no UpdateSecretVersionStage).
func awssmBackend(t *testing.T) backend {
	k := awstest.StartKumo(t)
	c := sm.NewFromConfig(k.Config(), func(o *sm.Options) { o.BaseEndpoint = aws.String(k.URL) })
	run := 0
	id := func(name string) string { return fmt.Sprintf("run%d/%s", run, name) }
	return backend{
		scheme: "awssm",
		open: func(t *testing.T) providers.Provider {
			run++
			p, err := secretsmanager.New(t.Context(), &secretsmanager.Options{Client: c, PollInterval: 100 * time.Millisecond, ForceDelete: true})
			if err != nil {
				t.Fatal(err)
			}
			return withoutRevoke{p, p, p, p}
		},
		ref: func(name string) string { return secretsmanager.Ref(id(name)) },
		put: func(t *testing.T, name string, stored []byte) {
			ctx, value, secret := context.Background(), string(stored), id(name)
			_, err := c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &secret, SecretString: &value})
			var api smithy.APIError
			if errors.As(err, &api) && api.ErrorCode() == "ResourceNotFoundException" {
				_, err = c.CreateSecret(ctx, &sm.CreateSecretInput{Name: &secret, SecretString: &value})
			}
			if err != nil {
				t.Fatal(err)
			}
		},
		remove: func(t *testing.T, name string) {
			secret := id(name)
			if _, err := c.DeleteSecret(context.Background(), &sm.DeleteSecretInput{SecretId: &secret, ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
		},
		text:    true,
		invalid: []string{"awssm:a b", "awssm:a?bogus=1", "awssm:a#/bad~2", "awssm:/abs"},
		caps: providertest.Capabilities{
			Mutable: true, Watchable: true, Versioned: true,
			Writable: true, Deletable: true, Conditional: true,
		},
	}
}

// withoutRevoke is a provider with every ability of a Secrets Manager
// provider but Revoke.
type withoutRevoke struct {
	providers.Provider
	providers.Watcher
	providers.ConditionalWriter
	providers.Deleter
}

// runConformance runs providertest over kms+SCHEME on b, with every value
// encrypted under one local-kms key and the test encryption context.
func runConformance(t *testing.T, b backend) {
	c := kmsClient(t)
	key := newKey(t, c)
	param := "?kms-context=" + kms.FormatContext(testContext)
	a := "kms+" + b.ref("a")
	invalid := []string{
		"kms+" + b.scheme + ":", a + "?kms-context=", a + "?kms-context=k", a + "?kms-other=1",
		a + "?kms-context=k:v,k:v", a + "?kms-context=k:%zz", "kms+:" + b.ref("a"),
	}
	for _, r := range b.invalid {
		invalid = append(invalid, "kms+"+r)
	}
	providertest.Run(t, providertest.Harness{
		Open: func(t *testing.T) providers.Provider {
			p, err := kms.New(kms.Options{Client: c, Inner: b.open(t), InnerScheme: b.scheme, KeyID: key, DecryptKeyIDs: []string{key}, Base64: b.text})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Ref: func(t *testing.T, name string) string { return "kms+" + b.ref(name) + param },
		Set: func(t *testing.T, name string, data []byte) {
			b.put(t, name, b.store(encrypt(t, c, key, testContext, data)))
		},
		Remove:      b.remove,
		InvalidRefs: invalid,
		Caps:        b.caps,
		ErrorPrefix: "providers/aws/kms: ",
	})
}

func TestConformanceMemory(t *testing.T) { runConformance(t, memoryBackend()) }
func TestConformanceFile(t *testing.T)   { runConformance(t, fileBackend(t)) }
func TestConformanceEnv(t *testing.T)    { runConformance(t, envBackend()) }
func TestConformanceAWSSM(t *testing.T)  { runConformance(t, awssmBackend(t)) }
