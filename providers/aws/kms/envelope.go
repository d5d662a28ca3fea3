package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/providers"
)

// The envelope format, version 1 (all integers big-endian):
//
//	offset    size  field
//	0         4     magic "SRKE" (0x53 0x52 0x4B 0x45)
//	4         1     version, 1
//	5         2     n: length of the encrypted data key, 1 to 6144
//	7         4     m: length of the sealed data, 16 to 1 GiB
//	11        n     the encrypted data key: the CiphertextBlob of KMS
//	                GenerateDataKey (AES_256), under the reference's
//	                encryption context
//	11+n      12    the AES-256-GCM nonce (random)
//	23+n      m     the sealed data: AES-256-GCM ciphertext then its
//	                16-byte tag, with the first 5 bytes (magic and version)
//	                as additional data
//
// The total length is exactly 23+n+m. The encrypted data key is not part of
// the additional data, so that re-wrapping it under another KMS key (key
// rotation) leaves the sealed data as it is; swapping it for another one
// yields another data key, which the tag refuses.
const (
	envMagic      = "SRKE"
	envVersion1   = 1
	envHeaderLen  = 11
	envNonceLen   = 12
	envTagLen     = 16
	maxWrappedKey = 6144
	maxSealed     = 1 << 30
	// MaxDirect is the largest value Write encrypts with KMS Encrypt
	// directly (KMS's own limit); larger values go into an envelope.
	MaxDirect = 4096
)

// Envelope errors. Each wraps [providers.ErrInvalid]; none quotes the input.
var (
	// ErrTruncated: the envelope is shorter than its header says.
	ErrTruncated = fmt.Errorf("%w: envelope truncated", providers.ErrInvalid)
	// ErrUnknownVersion: the envelope's version is not one this package reads.
	ErrUnknownVersion = fmt.Errorf("%w: unknown envelope version (this package reads version 1)", providers.ErrInvalid)
	// ErrMalformed: the envelope's lengths are out of range, or bytes follow it.
	ErrMalformed = fmt.Errorf("%w: malformed envelope", providers.ErrInvalid)
)

// envelope is a parsed envelope; its slices alias the input.
type envelope struct {
	wrappedKey []byte
	nonce      []byte
	sealed     []byte
}

// isEnvelope reports whether data starts with the envelope magic: anything
// else is taken for a KMS ciphertext blob.
func isEnvelope(data []byte) bool {
	return len(data) >= len(envMagic) && string(data[:len(envMagic)]) == envMagic
}

// parseEnvelope parses data, which starts with the magic. Its errors give
// lengths and offsets, never bytes of the input.
func parseEnvelope(data []byte) (envelope, error) {
	if !isEnvelope(data) {
		return envelope{}, fmt.Errorf("%w: no envelope magic", ErrMalformed)
	}
	if len(data) < 5 {
		return envelope{}, fmt.Errorf("%w: %d bytes, no version byte", ErrTruncated, len(data))
	}
	if data[4] != envVersion1 {
		return envelope{}, ErrUnknownVersion
	}
	if len(data) < envHeaderLen {
		return envelope{}, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(data), envHeaderLen)
	}
	n := int(binary.BigEndian.Uint16(data[5:7]))
	m := int(binary.BigEndian.Uint32(data[7:11]))
	if n < 1 || n > maxWrappedKey {
		return envelope{}, fmt.Errorf("%w: encrypted data key length %d out of range 1..%d", ErrMalformed, n, maxWrappedKey)
	}
	if m < envTagLen || m > maxSealed {
		return envelope{}, fmt.Errorf("%w: sealed length %d out of range %d..%d", ErrMalformed, m, envTagLen, maxSealed)
	}
	total := envHeaderLen + n + envNonceLen + m
	if len(data) < total {
		return envelope{}, fmt.Errorf("%w: %d bytes, the header says %d", ErrTruncated, len(data), total)
	}
	if len(data) > total {
		return envelope{}, fmt.Errorf("%w: %d bytes follow its end at offset %d", ErrMalformed, len(data)-total, total)
	}
	return envelope{
		wrappedKey: data[envHeaderLen : envHeaderLen+n],
		nonce:      data[envHeaderLen+n : envHeaderLen+n+envNonceLen],
		sealed:     data[envHeaderLen+n+envNonceLen:],
	}, nil
}

// marshal encodes e in version 1 of the format.
func (e envelope) marshal() []byte {
	out := make([]byte, 0, envHeaderLen+len(e.wrappedKey)+envNonceLen+len(e.sealed))
	out = append(out, envMagic...)
	out = append(out, envVersion1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(e.wrappedKey)))
	out = binary.BigEndian.AppendUint32(out, uint32(len(e.sealed)))
	out = append(out, e.wrappedKey...)
	out = append(out, e.nonce...)
	return append(out, e.sealed...)
}

// aad is the additional data of the seal: the magic and the version.
var aad = []byte(envMagic + "\x01")

// seal encrypts plaintext under key (32 bytes, wiped by the caller) into an
// envelope carrying wrappedKey.
func seal(key, wrappedKey, plaintext []byte) ([]byte, error) {
	if len(wrappedKey) < 1 || len(wrappedKey) > maxWrappedKey {
		return nil, fmt.Errorf("encrypted data key length %d out of range", len(wrappedKey))
	}
	if len(plaintext) > maxSealed-envTagLen {
		return nil, fmt.Errorf("%w: value of %d bytes exceeds the envelope's limit", providers.ErrInvalid, len(plaintext))
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, envNonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return envelope{wrappedKey: wrappedKey, nonce: nonce, sealed: gcm.Seal(nil, nonce, plaintext, aad)}.marshal(), nil
}

// open decrypts e's sealed data with key (wiped by the caller).
func (e envelope) open(key []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out, err := gcm.Open(nil, e.nonce, e.sealed, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: envelope does not authenticate under its data key", providers.ErrInvalid)
	}
	return out, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, errors.New("data key is not 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
