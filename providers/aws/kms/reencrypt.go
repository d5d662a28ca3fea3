package kms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/providers"
)

// ReEncrypt returns stored (a value as Fetch reads it: a KMS ciphertext or
// an envelope, binary or base64) re-encrypted under newKeyID with the same
// encryption context ec, for KMS key rotation. A KMS ciphertext goes
// through KMS ReEncrypt; an envelope keeps its sealed data and gets its
// data key re-wrapped (ReEncrypt of the encrypted data key). The plaintext
// never leaves KMS. The result has the form of the input (base64 stays
// base64).
//
// Once every value is re-encrypted, the old key can be disabled or
// scheduled for deletion.
func ReEncrypt(ctx context.Context, c Client, stored []byte, ec map[string]string, newKeyID string) ([]byte, error) {
	blob := decode(stored)
	wasBase64 := len(blob) != len(stored)
	if len(blob) == 0 {
		return nil, fmt.Errorf(prefix+"%w: the stored ciphertext is empty", providers.ErrInvalid)
	}
	var out []byte
	if isEnvelope(blob) {
		env, err := parseEnvelope(blob)
		if err != nil {
			return nil, fmt.Errorf(prefix+"%w", err)
		}
		wrapped, err := reEncrypt(ctx, c, env.wrappedKey, ec, newKeyID)
		if err != nil {
			return nil, err
		}
		if len(wrapped) > maxWrappedKey {
			return nil, errors.New(prefix + "ReEncrypt: the re-wrapped data key is too long for the envelope")
		}
		env.wrappedKey = wrapped
		out = env.marshal()
	} else {
		var err error
		if out, err = reEncrypt(ctx, c, blob, ec, newKeyID); err != nil {
			return nil, err
		}
	}
	if wasBase64 {
		out = []byte(base64.StdEncoding.EncodeToString(out))
	}
	return out, nil
}

func reEncrypt(ctx context.Context, c Client, blob []byte, ec map[string]string, newKeyID string) ([]byte, error) {
	out, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{
		CiphertextBlob:               blob,
		SourceEncryptionContext:      ec,
		DestinationKeyId:             &newKeyID,
		DestinationEncryptionContext: ec,
	})
	if err != nil {
		return nil, kmsError(ctx, "ReEncrypt", err)
	}
	return out.CiphertextBlob, nil
}

// ReEncryptRef re-encrypts the value of ref, served by p (a provider from
// [New] whose inner provider is a providers.Writer), under newKeyID: it
// reads the ciphertext through the inner provider, calls [ReEncrypt] and
// writes the result back, with WriteIf conditioned on the version read when
// the inner provider is a providers.ConditionalWriter (a concurrent write
// then fails with providers.ErrConflict instead of being lost). It returns
// the new inner version.
//
// A provider whose Options.DecryptKeyIDs is set must list newKeyID before
// the new ciphertext is written, or it refuses it.
func ReEncryptRef(ctx context.Context, p providers.Provider, ref, newKeyID string) (string, error) {
	s, ok := p.(interface{ self() *core })
	if !ok {
		return "", fmt.Errorf(prefix+"ReEncryptRef: %w: not a provider of this package", providers.ErrUnsupported)
	}
	c := s.self()
	innerRef, ec, err := c.parse(ref)
	if err != nil {
		return "", err
	}
	w, ok := c.inner.(providers.Writer)
	if !ok {
		return "", fmt.Errorf(prefix+"ReEncryptRef: %w: the inner provider cannot write", providers.ErrUnsupported)
	}
	v, err := c.inner.Fetch(ctx, innerRef)
	if err != nil {
		return "", fmt.Errorf(prefix+"%w", err)
	}
	defer v.Wipe()
	blob, err := ReEncrypt(ctx, c.client, v.Data, ec, newKeyID)
	if err != nil {
		return "", err
	}
	var version string
	if cw, ok := c.inner.(providers.ConditionalWriter); ok {
		version, err = cw.WriteIf(ctx, innerRef, blob, v.Version)
	} else {
		version, err = w.Write(ctx, innerRef, blob)
	}
	if err != nil {
		return "", fmt.Errorf(prefix+"%w", err)
	}
	return version, nil
}
