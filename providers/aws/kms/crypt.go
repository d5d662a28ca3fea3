package kms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/providers"
)

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
// envelope, binary or base64). An envelope's data key comes from the cache
// when it holds one for the same encrypted data key, encryption context
// and accepted keys; else from KMS Decrypt, and is cached once it has
// opened the envelope.
func (c *core) decryptValue(ctx context.Context, stored []byte, ec map[string]string) ([]byte, error) {
	blob := decode(stored)
	if len(blob) == 0 {
		return nil, fmt.Errorf(prefix+"%w: the stored ciphertext is empty", providers.ErrInvalid)
	}
	if !isEnvelope(blob) {
		return kmsDecrypt(ctx, c.client, blob, ec, c.decrypt)
	}
	env, err := parseEnvelope(blob)
	if err != nil {
		return nil, fmt.Errorf(prefix+"%w", err)
	}
	var (
		id  cacheID
		out []byte
	)
	if c.keys != nil {
		id = dataKeyID(env.wrappedKey, ec, c.decrypt)
		if c.keys.open(id, func(key []byte) { out, err = env.open(key) }) {
			if err != nil {
				return nil, fmt.Errorf(prefix+"%w", err)
			}
			return out, nil
		}
	}
	asked := c.now()
	key, err := kmsDecrypt(ctx, c.client, env.wrappedKey, ec, c.decrypt)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	if out, err = env.open(key); err != nil {
		return nil, fmt.Errorf(prefix+"%w", err)
	}
	c.keys.put(id, key, asked)
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
