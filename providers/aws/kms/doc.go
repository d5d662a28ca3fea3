// Package kms is a strongroom provider that decrypts, with AWS KMS, the
// values another provider holds: envelope encryption for any backend.
//
// # References
//
// The provider made by [New] over an inner provider of scheme S serves
// scheme "kms+S": "kms+file:///run/secrets/db.enc", "kms+env://DB_PASSWORD",
// "kms+memory://db" (tests), "kms+awssm:prod/db". The reference without its
// "kms+" prefix, and without the kms-context parameter, is passed to the
// inner provider.
//
// The KMS encryption context is the query parameter kms-context, a comma-
// separated list of KEY:VALUE pairs, each KEY and VALUE percent-encoded
// (',', ':', '&' and '#' must be escaped), keys distinct and neither empty:
//
//	kms+file:///run/secrets/db.enc?kms-context=app:billing,env:prod
//	kms+awssm:prod/db?stage=AWSPREVIOUS&kms-context=app:billing#/password
//
// The parameter is removed from the query (the part between the first '?'
// and the first '#'); the other parameters and the fragment stay, in order.
// It is the only "kms-" parameter: any other is refused with
// providers.ErrInvalidRef, as is a malformed context. [FormatContext]
// writes the parameter's value for a map, [ParseRef] splits a reference.
// The same context is used to decrypt and, by Write, to encrypt.
//
// # Stored values
//
// The inner value is binary, or its standard base64 encoding (as the AWS
// CLI prints a CiphertextBlob; Options.Base64 makes Write store that form).
// It is either
//
//   - a KMS ciphertext blob, from KMS Encrypt: values of at most
//     [MaxDirect] (4096) bytes, KMS's own limit; or
//   - an envelope, for larger values: a 256-bit data key from KMS
//     GenerateDataKey seals the value locally with AES-256-GCM, and the
//     data key, encrypted by KMS, is stored beside it.
//
// An envelope starts with the 4 bytes "SRKE"; anything else is taken for a
// KMS ciphertext. Envelope format, version 1 (integers big-endian):
//
//	offset  size  field
//	0       4     magic "SRKE"
//	4       1     version: 1
//	5       2     n, length of the encrypted data key (1..6144)
//	7       4     m, length of the sealed data (16..2^30)
//	11      n     encrypted data key (GenerateDataKey's CiphertextBlob,
//	              under the reference's encryption context)
//	11+n    12    AES-GCM nonce, random
//	23+n    m     AES-256-GCM ciphertext and 16-byte tag; additional
//	              data: the 5 bytes of magic and version
//
// The total is exactly 23+n+m bytes. The parser refuses a shorter input
// ([ErrTruncated]), another version ([ErrUnknownVersion]), lengths out of
// range or trailing bytes ([ErrMalformed]); its errors give lengths, never
// bytes of the input. A later version changes the version byte.
//
// # Keys and rotation
//
// Options.KeyID is the key Write encrypts under. Options.DecryptKeyIDs,
// when set, are the only keys whose ciphertexts Fetch accepts (with one,
// KMS is told the key and refuses others itself). [ReEncrypt] re-encrypts a
// stored value under a new key without the plaintext leaving KMS: KMS
// ReEncrypt for a ciphertext blob, a re-wrapped data key for an envelope
// (the sealed data is unchanged). [ReEncryptRef] does it in place through
// the inner provider. Once every value is re-encrypted the old key can be
// disabled or scheduled for deletion.
//
// # Abilities
//
// The provider has exactly the optional abilities of the inner one
// (providers.Watcher, Writer, ConditionalWriter, Revoker, Deleter). Write
// and WriteIf encrypt before they write; versions are the inner provider's
// (Value.Version of a fetched value is the inner version).
//
// # Data-key cache
//
// Fetch of an envelope asks KMS to decrypt its data key. The plaintext
// data key is then cached, sealed in guarded memory that the provider owns
// (github.com/strongroom/strongroom/internal/guard, the store's own: the
// sealing key and the scratch memory a key is opened into are locked
// pages; at most 16 KiB), under a SHA-256 of the encrypted data key, the
// encryption context and Options.DecryptKeyIDs, never of anything derived
// from a plaintext. A later Fetch of an envelope with the same encrypted
// data key and context (a refresh of an unchanged value, another secret
// holding the same envelope) opens it with the cached key and makes no
// KMS call. Another context, or another encrypted data key (after
// [ReEncrypt]), misses and asks KMS, which refuses what it must; a changed
// envelope that keeps its data key is refused by its AES-GCM tag.
//
// A key is cached only once it has opened its envelope, for
// Options.DataKeyTTL ([DefaultDataKeyTTL], 5 minutes) counted from the KMS
// call, however often it is used; at most Options.DataKeyCacheSize
// ([DefaultDataKeyCacheSize], 256) are held, the oldest evicted first.
// An expired key is destroyed (its sealed copy wiped) by the next Fetch or
// insertion that finds it; Close destroys every key and closes the guarded
// memory. No goroutine is started. KMS ciphertext blobs (values of at most
// [MaxDirect] bytes) hold no data key and are never cached: each Fetch of
// one calls KMS Decrypt. A negative DataKeyTTL or DataKeyCacheSize turns
// the cache off. Where no memory can be locked (RLIMIT_MEMLOCK), the
// cache stays off rather than keep keys in memory that may be swapped.
//
// The trade-off: while a data key is cached, its envelope is decrypted
// without KMS, so without a fresh KMS authorisation check. A key disabled
// or scheduled for deletion, a grant or a permission revoked, keep
// working for that envelope until DataKeyTTL has passed since the key was
// fetched, and KMS's audit log (CloudTrail) records one Decrypt per TTL
// rather than one per Fetch. Set DataKeyTTL to the revocation delay you
// accept, or negative where every read must be authorised by KMS.
//
// # Concurrency
//
// The provider is safe for concurrent use, Close included: a Fetch that
// meets Close fails with the inner provider's providers.ErrClosed. Close
// waits for the cached keys in use to be put back before it wipes them.
//
// # Errors
//
// Errors start with "providers/aws/kms: ". KMS InvalidCiphertextException
// and IncorrectKeyException (a corrupt value, another key, another
// encryption context), a bad envelope and a ciphertext under a key not in
// DecryptKeyIDs wrap providers.ErrInvalid, so that the store keeps serving
// the last good value; AccessDeniedException, a disabled key or one pending
// deletion wrap providers.ErrPermission. An error keeps KMS's error code
// and drops the rest of KMS's message; none contains a credential, a
// signature, a header or a value. The inner provider's errors are wrapped
// as they are.
//
// # Security
//
// A data key that KMS returns in plaintext is wiped as soon as the value is
// opened and the key sealed into the cache (or sealed into a new
// envelope, by Write); a cached key is opened into locked scratch memory
// for the length of one decryption. Copies outside this package's reach
// remain until the garbage collector reuses them: the SDK's response
// buffers (base64 text) and crypto/aes's expanded key schedule. The
// decrypted value is handed to the store, which seals it. The provider
// and [Options] print as a fixed description (every fmt verb, slog, text
// marshalling): never the KMS client, whose own printing shows its
// credentials, nor the inner provider. Importing this package imports
// memguard, which disables core dumps for the whole process.
package kms
