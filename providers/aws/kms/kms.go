package kms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/providers"
)

const prefix = "providers/aws/kms: "

// Client is the part of the AWS KMS API the provider calls; an
// aws-sdk-go-v2 *kms.Client (github.com/aws/aws-sdk-go-v2/service/kms)
// implements it.
type Client interface {
	Encrypt(ctx context.Context, in *awskms.EncryptInput, optFns ...func(*awskms.Options)) (*awskms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *awskms.DecryptInput, optFns ...func(*awskms.Options)) (*awskms.DecryptOutput, error)
	GenerateDataKey(ctx context.Context, in *awskms.GenerateDataKeyInput, optFns ...func(*awskms.Options)) (*awskms.GenerateDataKeyOutput, error)
	ReEncrypt(ctx context.Context, in *awskms.ReEncryptInput, optFns ...func(*awskms.Options)) (*awskms.ReEncryptOutput, error)
}

// Options configure [New].
type Options struct {
	// Client calls KMS. Required.
	Client Client
	// Inner is the wrapped provider, which holds the ciphertexts.
	// Required. The returned provider closes it in Close.
	Inner providers.Provider
	// InnerScheme is the scheme Inner serves ("file", "env", "memory",
	// "awssm", ...): the provider serves "kms+" + InnerScheme. Required.
	InnerScheme string
	// KeyID is the KMS key (key ID, key ARN, alias name or alias ARN)
	// that Write encrypts under. Empty: Write fails with
	// providers.ErrUnsupported.
	KeyID string
	// DecryptKeyIDs are the keys (key IDs or key ARNs) whose ciphertexts
	// Fetch accepts; a value encrypted under any other key is refused
	// with providers.ErrInvalid, even when the caller may use that key.
	// With exactly one, KMS itself is told the key (Decrypt's KeyId) and
	// refuses the others. Empty: any key KMS lets the caller use (AWS's
	// own behaviour for symmetric ciphertexts). During a key rotation
	// list both the old and the new key.
	DecryptKeyIDs []string
	// Base64 makes Write store the standard base64 encoding of the
	// ciphertext (for backends that hold text, such as environment
	// variables). Fetch accepts either form whatever this says.
	Base64 bool
	// DataKeyTTL is how long a data key that KMS decrypted for an
	// envelope stays cached, sealed in locked memory, counted from the
	// KMS Decrypt call (using it does not extend it). Within it, Fetch of
	// an envelope with the same encrypted data key, encryption context
	// and DecryptKeyIDs makes no KMS call, so KMS does not check the
	// caller's permission again. Zero: [DefaultDataKeyTTL] (5 minutes).
	// Negative: no cache; every Fetch calls KMS Decrypt. KMS ciphertext
	// blobs (values of at most [MaxDirect] bytes) are never cached.
	DataKeyTTL time.Duration
	// DataKeyCacheSize bounds the data keys cached at once; the oldest
	// is evicted for a new one. Zero: [DefaultDataKeyCacheSize] (256).
	// Negative: no cache.
	DataKeyCacheSize int
	// Clock is the source of time for DataKeyTTL; a
	// github.com/strongroom/strongroom/secrets.Clock or a
	// providers/memory Clock fits. Nil: the wall clock.
	Clock interface{ Now() time.Time }
}

// core is the provider behind every view: Fetch, Close and the calls that
// the optional abilities delegate to.
type core struct {
	client  Client
	inner   providers.Provider
	scheme  string // "kms+" + inner scheme, lower case
	keyID   string
	decrypt []string
	base64  bool
	keys    *dataKeys // nil: no data-key cache
	now     func() time.Time
}

// New returns a provider of scheme "kms+" + opts.InnerScheme over
// opts.Inner. It has each optional ability (providers.Watcher, Writer,
// ConditionalWriter, Revoker, Deleter) that Inner has, and no other; Write
// and WriteIf encrypt before they write through Inner, and Watch, Revoke
// and Delete pass the inner reference through.
func New(opts Options) (providers.Provider, error) {
	if opts.Client == nil || opts.Inner == nil {
		return nil, errors.New(prefix + "Options.Client and Options.Inner are required")
	}
	s := strings.ToLower(opts.InnerScheme)
	if s == "" || providers.Scheme(s+":") != s {
		return nil, errors.New(prefix + "Options.InnerScheme is not a valid scheme")
	}
	c := &core{client: opts.Client, inner: opts.Inner, scheme: "kms+" + s, keyID: opts.KeyID,
		decrypt: append([]string(nil), opts.DecryptKeyIDs...), base64: opts.Base64, now: time.Now}
	if opts.Clock != nil {
		c.now = opts.Clock.Now
	}
	c.keys = newDataKeys(opts.DataKeyTTL, opts.DataKeyCacheSize, c.now)
	return view(c), nil
}

func (c *core) self() *core { return c }

// Close wipes the cached data keys, closes their guarded memory and
// closes the inner provider.
func (c *core) Close() error {
	c.keys.close()
	if err := c.inner.Close(); err != nil {
		return fmt.Errorf(prefix+"%w", err)
	}
	return nil
}

// Fetch fetches the ciphertext through the inner provider and decrypts it.
func (c *core) Fetch(ctx context.Context, ref string) (*providers.Value, error) {
	innerRef, ec, err := c.parse(ref)
	if err != nil {
		return nil, err
	}
	v, err := c.inner.Fetch(ctx, innerRef)
	if err != nil {
		return nil, fmt.Errorf(prefix+"%w", err)
	}
	defer v.Wipe()
	data, err := c.decryptValue(ctx, v.Data, ec)
	if err != nil {
		return nil, err
	}
	return &providers.Value{Data: data, Version: v.Version, ExpiresAt: v.ExpiresAt, CreatedAt: v.CreatedAt, Labels: v.Labels}, nil
}

func (c *core) encryptFor(ctx context.Context, ref string, data []byte) (string, []byte, error) {
	innerRef, ec, err := c.parse(ref)
	if err != nil {
		return "", nil, err
	}
	if c.keyID == "" {
		return "", nil, fmt.Errorf(prefix+"write: %w: no Options.KeyID to encrypt under", providers.ErrUnsupported)
	}
	blob, err := Encrypt(ctx, c.client, c.keyID, ec, data)
	if err != nil {
		return "", nil, err
	}
	if c.base64 {
		blob = []byte(base64.StdEncoding.EncodeToString(blob))
	}
	return innerRef, blob, nil
}

func (c *core) write(ctx context.Context, ref string, data []byte) (string, error) {
	innerRef, blob, err := c.encryptFor(ctx, ref, data)
	if err != nil {
		return "", err
	}
	v, err := c.inner.(providers.Writer).Write(ctx, innerRef, blob)
	if err != nil {
		return "", fmt.Errorf(prefix+"%w", err)
	}
	return v, nil
}

func (c *core) writeIf(ctx context.Context, ref string, data []byte, ifVersion string) (string, error) {
	innerRef, blob, err := c.encryptFor(ctx, ref, data)
	if err != nil {
		return "", err
	}
	v, err := c.inner.(providers.ConditionalWriter).WriteIf(ctx, innerRef, blob, ifVersion)
	if err != nil {
		return "", fmt.Errorf(prefix+"%w", err)
	}
	return v, nil
}

func (c *core) watch(ctx context.Context, ref string, changed func()) (func(), error) {
	innerRef, _, err := c.parse(ref)
	if err != nil {
		return nil, err
	}
	stop, err := c.inner.(providers.Watcher).Watch(ctx, innerRef, changed)
	if err != nil {
		return nil, fmt.Errorf(prefix+"%w", err)
	}
	return stop, nil
}

func (c *core) revoke(ctx context.Context, ref, version string) error {
	innerRef, _, err := c.parse(ref)
	if err != nil {
		return err
	}
	if err := c.inner.(providers.Revoker).Revoke(ctx, innerRef, version); err != nil {
		return fmt.Errorf(prefix+"%w", err)
	}
	return nil
}

func (c *core) delete(ctx context.Context, ref string) error {
	innerRef, _, err := c.parse(ref)
	if err != nil {
		return err
	}
	if err := c.inner.(providers.Deleter).Delete(ctx, innerRef); err != nil {
		return fmt.Errorf(prefix+"%w", err)
	}
	return nil
}
