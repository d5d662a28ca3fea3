package kms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

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
		decrypt: append([]string(nil), opts.DecryptKeyIDs...), base64: opts.Base64}
	return view(c), nil
}

func (c *core) self() *core { return c }

// Close closes the inner provider.
func (c *core) Close() error {
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
	data, err := decryptValue(ctx, c.client, v.Data, ec, c.decrypt)
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

// parse splits ref into the inner reference and the encryption context:
// the scheme must be c's, and the "kms-context" query parameter (the only
// "kms-" parameter there is) is taken out of the inner reference's query.
func (c *core) parse(ref string) (innerRef string, ec map[string]string, err error) {
	if providers.Scheme(ref) != c.scheme {
		return "", nil, fmt.Errorf(prefix+"%w: the scheme is not %s", providers.ErrInvalidRef, c.scheme)
	}
	return ParseRef(ref)
}

// ParseRef splits a "kms+SCHEME:..." reference into the inner reference
// ("SCHEME:...") and the encryption context its "kms-context" parameter
// gives (nil when it has none). See the package documentation for the
// syntax. Errors wrap providers.ErrInvalidRef.
func ParseRef(ref string) (innerRef string, encryptionContext map[string]string, err error) {
	s := providers.Scheme(ref)
	if !strings.HasPrefix(s, "kms+") || len(s) == len("kms+") {
		return "", nil, fmt.Errorf(prefix+"%w: the scheme is not kms+SCHEME", providers.ErrInvalidRef)
	}
	inner := ref[len("kms+"):]
	rest, frag := inner, ""
	if i := strings.IndexByte(inner, '#'); i >= 0 {
		rest, frag = inner[:i], inner[i:]
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return inner, nil, nil
	}
	var kept []string
	found := false
	for _, p := range strings.Split(rest[q+1:], "&") {
		name, value, _ := strings.Cut(p, "=")
		if !strings.HasPrefix(strings.ToLower(name), "kms-") {
			kept = append(kept, p)
			continue
		}
		if name != "kms-context" {
			return "", nil, fmt.Errorf(prefix+"%w: unknown parameter (the only kms- parameter is kms-context)", providers.ErrInvalidRef)
		}
		if found {
			return "", nil, fmt.Errorf(prefix+"%w: kms-context given twice", providers.ErrInvalidRef)
		}
		found = true
		if encryptionContext, err = parseContext(value); err != nil {
			return "", nil, err
		}
	}
	innerRef = rest[:q]
	if len(kept) > 0 {
		innerRef += "?" + strings.Join(kept, "&")
	}
	return innerRef + frag, encryptionContext, nil
}

// parseContext parses "k:v,k2:v2", each key and value percent-decoded.
func parseContext(s string) (map[string]string, error) {
	ec := make(map[string]string)
	for i, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, ":")
		var err1, err2 error
		k, err1 = url.PathUnescape(k)
		v, err2 = url.PathUnescape(v)
		switch {
		case !ok:
			return nil, fmt.Errorf(prefix+"%w: kms-context pair %d has no ':'", providers.ErrInvalidRef, i+1)
		case err1 != nil || err2 != nil:
			return nil, fmt.Errorf(prefix+"%w: kms-context pair %d has a bad percent-escape", providers.ErrInvalidRef, i+1)
		case k == "" || v == "":
			return nil, fmt.Errorf(prefix+"%w: kms-context pair %d has an empty key or value", providers.ErrInvalidRef, i+1)
		}
		if _, dup := ec[k]; dup {
			return nil, fmt.Errorf(prefix+"%w: kms-context pair %d repeats a key", providers.ErrInvalidRef, i+1)
		}
		ec[k] = v
	}
	return ec, nil
}

// FormatContext returns the kms-context parameter value for ec ("k:v,..."
// in key order, each key and value percent-encoded).
func FormatContext(ec map[string]string) string {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = escape(k) + ":" + escape(ec[k])
	}
	return strings.Join(parts, ",")
}

func escape(s string) string {
	return strings.NewReplacer(",", "%2C", ":", "%3A", "&", "%26", "#", "%23").Replace(url.PathEscape(s))
}

// decode returns the binary ciphertext of data: data itself, or its
// standard base64 decoding when data is entirely base64 text (as the AWS
// CLI prints a CiphertextBlob). A binary KMS ciphertext or envelope is
// never valid base64 in practice: both hold random bytes.
func decode(data []byte) []byte {
	if len(data) == 0 || len(data)%4 != 0 {
		return data
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
	n, err := base64.StdEncoding.Decode(out, data)
	if err != nil {
		return data
	}
	return out[:n]
}

// decryptValue decrypts a stored value (a KMS ciphertext blob or an
// envelope, binary or base64).
func decryptValue(ctx context.Context, c Client, stored []byte, ec map[string]string, accepted []string) ([]byte, error) {
	blob := decode(stored)
	if len(blob) == 0 {
		return nil, fmt.Errorf(prefix+"%w: the stored ciphertext is empty", providers.ErrInvalid)
	}
	if !isEnvelope(blob) {
		return kmsDecrypt(ctx, c, blob, ec, accepted)
	}
	env, err := parseEnvelope(blob)
	if err != nil {
		return nil, fmt.Errorf(prefix+"%w", err)
	}
	key, err := kmsDecrypt(ctx, c, env.wrappedKey, ec, accepted)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	out, err := env.open(key)
	if err != nil {
		return nil, fmt.Errorf(prefix+"%w", err)
	}
	return out, nil
}

func kmsDecrypt(ctx context.Context, c Client, blob []byte, ec map[string]string, accepted []string) ([]byte, error) {
	in := &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec}
	if len(accepted) == 1 {
		in.KeyId = &accepted[0]
	}
	out, err := c.Decrypt(ctx, in)
	if err != nil {
		return nil, kmsError(ctx, "Decrypt", err)
	}
	if len(accepted) > 0 && !acceptedKey(out.KeyId, accepted) {
		clear(out.Plaintext)
		return nil, fmt.Errorf(prefix+"Decrypt: %w: the value is encrypted under a key not in Options.DecryptKeyIDs", providers.ErrInvalid)
	}
	return out.Plaintext, nil
}

func acceptedKey(arn *string, accepted []string) bool {
	if arn == nil {
		return false
	}
	for _, a := range accepted {
		if a == *arn || strings.HasSuffix(*arn, ":key/"+a) {
			return true
		}
	}
	return false
}

// Encrypt encrypts plaintext under keyID with the encryption context ec:
// with KMS Encrypt when it is at most [MaxDirect] bytes, else into an
// envelope under a data key from GenerateDataKey (wiped once used). It
// returns the binary form that Fetch reads.
func Encrypt(ctx context.Context, c Client, keyID string, ec map[string]string, plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, fmt.Errorf(prefix+"%w: KMS cannot encrypt an empty value", providers.ErrInvalid)
	}
	if len(plaintext) <= MaxDirect {
		out, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &keyID, Plaintext: plaintext, EncryptionContext: ec})
		if err != nil {
			return nil, kmsError(ctx, "Encrypt", err)
		}
		if isEnvelope(out.CiphertextBlob) {
			return nil, errors.New(prefix + "Encrypt: KMS returned a ciphertext that starts like an envelope")
		}
		return out.CiphertextBlob, nil
	}
	out, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: &keyID, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	if err != nil {
		return nil, kmsError(ctx, "GenerateDataKey", err)
	}
	defer clear(out.Plaintext)
	env, err := seal(out.Plaintext, out.CiphertextBlob, plaintext)
	if err != nil {
		return nil, fmt.Errorf(prefix+"sealing: %w", err)
	}
	return env, nil
}

// kmsError maps a KMS call's error to the providers sentinels. It keeps
// the API's error code and the HTTP status and drops the rest of the
// message; it never holds a credential, a signature or a header.
func kmsError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf(prefix+"%s: %w", op, ctx.Err())
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		code := api.ErrorCode()
		var kind error
		var why string
		switch code {
		case "InvalidCiphertextException":
			kind, why = providers.ErrInvalid, "KMS refused the ciphertext (corrupt, under another key, or with another encryption context)"
		case "IncorrectKeyException":
			kind, why = providers.ErrInvalid, "the value is encrypted under another KMS key"
		case "AccessDeniedException":
			kind, why = providers.ErrPermission, "KMS denied access"
		case "DisabledException", "KMSInvalidStateException":
			kind, why = providers.ErrPermission, "the KMS key is disabled or pending deletion"
		case "NotFoundException":
			kind, why = providers.ErrInvalid, "the KMS key does not exist"
		case "InvalidKeyUsageException", "InvalidGrantTokenException":
			kind, why = providers.ErrInvalid, "KMS refused the key for this use"
		}
		if kind != nil {
			return fmt.Errorf(prefix+"%s: %w: %s (%s)", op, kind, why, code)
		}
		return fmt.Errorf(prefix+"%s: KMS error %s", op, code)
	}
	var op2 *net.OpError
	if errors.As(err, &op2) {
		return fmt.Errorf(prefix+"%s: %s", op, op2.Error())
	}
	return fmt.Errorf(prefix+"%s: request failed", op)
}
