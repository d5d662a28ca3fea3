// Package certs serves TLS certificates from a [secrets.Store]: they
// hot-reload when their secrets rotate, are validated before every swap,
// warn before they expire, and renew themselves.
//
// A [Source] serves one or more certificates, each a [Pair] of secrets (a
// certificate chain and a private key in PEM, or one bundle holding both)
// from any provider: files rewritten in place, renamed over or swapped by
// Kubernetes' "..data" link, a secrets server, the in-memory fake. When
// either secret changes, the Source reads the pair again, validates it and
// swaps it in atomically; the next handshake uses it, and connections
// already open are untouched. With a file provider rooted at the directory
// holding the pair:
//
//	store.Add(certs.CertificateSpec(secrets.Spec{Name: "web-cert", Ref: "file:tls.crt"}))
//	store.Add(certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "file:tls.key"}))
//	src, err := certs.New(ctx, store, &certs.Options{
//		Certificates: []certs.Pair{{Name: "web", Cert: "web-cert", Key: "web-key", Default: true}},
//	})
//	server := &http.Server{TLSConfig: certs.ServerConfig(src, nil)}
//
// Several certificates are chosen by SNI: the exact name, then a wildcard
// one label deep, then the default ([Pair].Default, else the first).
//
// # Validation
//
// Before every swap the new pair must parse (strictly: a truncated or
// broken PEM block is refused, not skipped), its key must match the leaf,
// the leaf must be inside its validity window, and, when configured
// ([Validation]), the chain must verify to given roots or a rotating
// [TrustBundle] and the leaf must hold the required DNS names and IP
// addresses. A pair that fails is refused with an [EventRejected] whose
// error names the secret and its version, and the certificate in service
// stays. The half-updated state (a new certificate whose key has not
// arrived yet, or the other way round) is refused in the same way, and the
// pair is accepted when the missing half arrives. A certificate refused as
// not yet valid is read again when it becomes valid. Declaring the secrets
// with [CertificateSpec] and [KeySpec] also makes the store itself refuse
// values that do not parse or have expired, and show each certificate's
// subject, SANs, issuer, serial, validity, SHA-256 fingerprint and chain
// length in its inventory (Metadata.Details).
//
// # Trust bundles and mTLS
//
// A [TrustBundle] is a set of CAs held as a secret: [ServerConfig] with
// [ServerConfigOptions].ClientCAs verifies client certificates against the
// bundle of the moment (through GetConfigForClient), and [ClientConfig]
// with [ClientConfigOptions].RootCAs verifies servers against it (through
// VerifyConnection). A CA rotation with an overlap (old and new CA both in
// the bundle for a while, or [TrustOptions].Overlap) needs no restart on
// either side. [HookServerConfig] and [HookClientConfig] add the same to
// an existing *tls.Config, as go-spiffe's tlsconfig.Hook functions do.
// The hooks honour the handshake's context (ClientHelloInfo.Context).
//
// # Expiry and renewal
//
// Each certificate in service is watched: an [EventExpiring] at each of
// [Options].Thresholds (by default a third of the lifetime left, 7 days,
// 1 day), and at its NotAfter an [EventExpired], after which it is
// withdrawn (handshakes for it fail with [ErrExpired] rather than present
// an expired certificate). The strongroom.certificate.expiry gauge reports
// the seconds left per certificate ([MetricExpiry]).
//
// A pair with a [Renewal] is renewed by an [Issuer] ([ACME] for an ACME
// CA, [DevCA] for a local development CA) at two thirds of its lifetime,
// brought forward by jitter, with exponential backoff on failure. The
// certificate in service stays until it expires, or until renewals have
// failed for [Renewal].MaxStale. The new pair is written back to the store
// (Store.Write, through the provider) where the provider can write, and
// served from memory otherwise. A bundle secret is written in one step; a
// pair of secrets in two, key first, with the old key written back if the
// certificate's write fails, so that the store never keeps a key without
// its certificate (see [Renewal] for the window between the two writes).
//
// # Concurrency
//
// Every method of [Source], [TrustBundle], [DevCA], [ACME] and
// [HTTP01Solver] is safe for concurrent use. GetCertificate and
// GetClientCertificate take no lock: an atomic load of a snapshot and of
// the pair's certificate (GetCertificate does not allocate). A Source
// reacts to the store's events on the store's subscriber goroutines, runs
// timers (expiry thresholds, renewals, re-reads) on the clock's, and
// renewals on goroutines of their own; its Close cancels and waits for all
// of them, and the same holds for a TrustBundle. Each subscriber of
// events has its own goroutine and bounded queue.
//
// # Errors
//
// Errors are *[Error] values naming the certificate (or bundle), the
// operation and, when one is at fault, the secret and its version; they
// match a sentinel with errors.Is ([ErrMalformed], [ErrMismatch],
// [ErrExpired], [ErrNotYetValid], [ErrUntrusted], [ErrMissingName],
// [ErrRejected], [ErrUnavailable], [ErrNoCertificate], [ErrStale],
// [ErrIssue], [ErrClosed], [ErrConfig]), and every refusal of a value also
// matches [secrets.ErrInvalid]. Messages start with "certs: ".
//
// # Security
//
// Private keys stay sealed in the store; parsing one for service puts it
// on the Go heap, where it lives while its certificate is in service
// (crypto/tls needs a crypto.Signer, and crypto/ecdsa and crypto/rsa keys
// cannot be wiped). A swap drops every reference to the superseded key at
// once, so it is garbage once the handshakes using it finish. A pair with
// [Pair].SealedKey instead keeps its key sealed in locked memory and opens
// it for each signature; the key parsed for a signature is dropped at once
// but, again, not wiped. Measured here (bench/certs_test.go, ECDSA P-256,
// two cores), that adds about 25 µs to each signature (45 µs to 69 µs),
// one signature per full handshake, which is within the noise of loopback
// TLS 1.3 handshakes (about 1.2 ms each); worth it for client certificates
// and other low-rate use. The [DevCA]'s root
// key is generated straight into guarded memory and sealed in the store;
// it is parsed for each signature in the same way. No private key, nor
// anything derived from one, reaches an error, an event, a log record, a
// metric, fmt output or JSON; certificates are public and their facts
// (subject, serial, fingerprints) appear freely. The ACME account key is
// in memory for the life of the [ACME] value unless one is given.
package certs
