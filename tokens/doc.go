// Package tokens obtains, caches and verifies short-lived, narrowly scoped
// access tokens: always fresh, never expired, and never a stampede at the
// token endpoint.
//
// A [Cache] keeps one token per [Request] (scopes and audience) from a
// [Fetcher] and hands it out through [Source] values:
//
//	client, err := tokens.NewClient("https://auth.example/oauth2/token", "batch-job",
//		tokens.ClientSecretBasic(store, "oauth-client-secret"),
//		&tokens.ClientOptions{RevocationURL: "https://auth.example/oauth2/revoke"})
//	cache, err := tokens.NewCache(client, nil)
//	defer cache.Close() // revokes the tokens held
//	reports := cache.Source(tokens.Request{Scopes: []string{"reports:read"}, Audience: []string{"reports"}})
//	httpClient := &http.Client{Transport: &tokens.Transport{Source: reports}}
//
// Fetchers: [Client] speaks OAuth 2.0 (RFC 6749 client credentials, or the
// refresh token grant) over github.com/hashicorp/go-retryablehttp, with
// client_secret_basic, client_secret_post or private_key_jwt (RFC 7523)
// client authentication, and revokes tokens (RFC 7009). [JWTIssuer] signs
// JWTs in process with a key held in a [secrets.Store]. The credential, the
// signing key and the client's private key are read from the store on every
// use, so rotating them there needs no restart. A client secret rotated in
// place at the server before the store has fetched it is caught too: on an
// invalid_client answer the Client refreshes the credential from the
// store's backend and, if its version changed, sends the request once
// more; while package rotate rotates the secret (set at the server, not
// yet promoted in the store), it sends the pending one instead (see
// [PendingAnnotation]). Once per Fetch, never in a loop; see [Client].
//
// Verification: a [Verifier] checks JWTs against a [KeySet]: a
// [JWTIssuer] in the same process, [RemoteKeys], or [StoreKeys].
// [Verifier.Require] is HTTP middleware.
//
// Adapters: [Transport] sets the Authorization header of outgoing
// requests; [OAuth2TokenSource] fits a Source into golang.org/x/oauth2.
//
// # Names
//
// [JWK] is one JSON Web Key and [JWKSet] a JSON Web Key Set, the JSON
// documents of RFC 7517 (public keys only here). [RemoteKeys] is a
// [KeySet] that fetches a JWKSet from a JWKS URL and keeps it fresh;
// [JWTIssuer.JWKSet] is the set a JWTIssuer publishes (it serves it over
// HTTP too).
//
// [JWTIssuer] signs JWTs, a token per [Request]; it is unrelated to
// certs.Issuer, which obtains certificates. [Source] is an interface of
// one method that hands out one Request's tokens (what [Cache.Source]
// returns); certs.Source is a struct that serves certificates. [Revoker]
// is a [Fetcher] that can also revoke the tokens it issued (RFC 7009),
// which a Cache does on [Cache.Drop] and [Cache.Close];
// providers.Revoker is a backend that can revoke secret versions. Both
// Revokers end a credential at its issuer; they revoke different things.
//
// # Freshness
//
// A token is refreshed in the background after CacheOptions.Ahead (two
// thirds) of its lifetime, brought forward by a random jitter (a tenth of
// the lifetime). One fetch per Request runs at a time, however many callers
// ask (after [Cache.Drop], the next fetch waits for the cancelled one).
// While an unexpired token is held no caller waits, whatever fetch is
// under way; a caller waits only for the first token, or after the token
// held expired. A failed fetch is retried after an exponential backoff
// with full jitter (1 s doubling to 5 min by default), and never before
// the server's Retry-After; meanwhile the token held is served until it
// expires (less CacheOptions.ExpiryMargin, for requests in flight and
// clock skew). From then on calls fail at once with [ErrExpired] until the
// next attempt succeeds: an expired token is never returned. A Request
// nobody asks for in CacheOptions.IdleAfter (1 h) is no longer refreshed.
//
// Unlike golang.org/x/oauth2, Token takes a context, keeps none, refreshes
// off the caller's path at a fraction of the lifetime rather than ten
// seconds before expiry, and hands a rotated refresh token to the program
// (ClientOptions.OnRefreshToken).
//
// # Time in tests
//
// A Cache reads time only through CacheOptions.Clock. The default, the
// wall clock, calls the time package, so a Cache made inside a
// testing/synctest bubble runs on the bubble's fake clock: a test can
// write time.Sleep(45 * time.Minute); synctest.Wait() and find the
// refresh that came due done, and Close leaves no goroutine in the bubble.
// With a [github.com/strongroom/strongroom/providers/memory.Clock], each
// fetch the Cache starts holds the clock until its outcome is recorded, so
// that when Advance returns the refreshes it made due have run.
//
// # Concurrency
//
// [Cache], [Client], [JWTIssuer], [Verifier], [RemoteKeys], [StoreKeys],
// [Token] and [Transport] are safe for concurrent use. A Cache starts one
// goroutine per fetch under way and one timer per Request; [Cache.Close]
// stops the timers, cancels the fetches and waits for them (a refresh
// token grant already sent is not cancelled: it runs to its end), then
// waits for the [Token.Use] calls under way. Use never waits for a lock:
// one that starts during Close, nested in another Use or not, fails with
// ErrClosed. A [RemoteKeys] runs at most one background fetch, which
// [RemoteKeys.Close] stops; a [JWTIssuer] subscribes to its key's events
// in the store, which [JWTIssuer.Close] ends. Close is idempotent
// everywhere, and calls after it fail with [ErrClosed]. [Client.Close]
// wipes a rotated refresh token it holds.
//
// # Errors
//
// Errors are prefixed "tokens: " and match the sentinels with errors.Is:
// [ErrExpired], [ErrClosed], [ErrInvalid], [ErrRejected], [ErrUnknownKey],
// [ErrMissingScope]. An error response from an OAuth 2.0 endpoint is an
// *[OAuthError] carrying the RFC 6749 fields (error, error_description,
// error_uri), the HTTP status and Retry-After (use errors.As). Verification
// errors also match golang-jwt's sentinels (jwt.ErrTokenExpired, ...). Store
// errors (secrets.ErrNotFound, ...) are wrapped and still match. A
// transport error keeps its cause (a *net.OpError, context.DeadlineExceeded)
// but not net/http's *url.Error, which would carry the URL unredacted.
//
// # Security
//
// A token's value is sealed (XSalsa20-Poly1305) as soon as it arrives, like
// every secret in strongroom; the plaintext exists in locked scratch memory
// only inside [Token.Use]. [Token], [Grant], [ClientAuth], [ClientOptions],
// [Client] and [RemoteKeys] redact themselves in fmt (every verb), slog,
// JSON and text output. Errors, logs and OAuthError fields never carry a
// token, a client secret, an assertion or a refresh token: a server's text
// that shares a run of 8 bytes with a credential sent, in any form it was
// sent in (ignoring case, and with invalid UTF-8 read as U+FFFD), is
// withheld. URLs that carry credentials in user information are refused;
// every URL shown in an error, a log or fmt output has its user
// information and its query and fragment values withheld, and so do the
// errors of the HTTP stack.
//
// No copy of an access or refresh token is left on the heap by this
// package: the token fields of a response are decoded straight into
// buffers that are wiped once the token is sealed, the response body and
// every request body holding a credential are wiped, and the Client's own
// HTTP client (ClientOptions.HTTPClient nil) dials connections that wipe
// the HTTP/1.1 transport's read and write buffers when they close (it
// keeps no connection alive). A test proves it against a real OAuth 2.0
// server (Ory Hydra, over plain HTTP on loopback): after Close, no access
// token and no rotated refresh token of a Cache and Client is found
// anywhere in the process's readable memory.
//
// What that test cannot rule out, and what this package does not wipe:
// copies the kernel keeps (socket buffers, the page cache); the TLS stack's
// plaintext buffers (crypto/tls decrypts each record into buffers of its
// own, so over HTTPS the wiped transport buffers hold ciphertext but the
// tls.Conn's do not); an HTTP client given in ClientOptions.HTTPClient,
// whose buffers are its own; HTTP/2, which the Client's own client does
// not speak; and the copies the program makes: an Authorization header set
// by [Token.SetAuthHeader] or [Transport], an oauth2.Token from
// [OAuth2TokenSource] (one string per token, kept until the next token),
// what a function given to Use or OnRefreshToken keeps, and a [Grant] a
// program fetches itself and does not wipe. The client_secret_basic
// header ("Basic" and the base64 of the client ID and secret) that a
// [Client] sends, a private key parsed to sign, and a server's error text
// are ordinary Go strings on the heap until the collector reclaims them.
// A fetch that Drop or Close cancels after the server issued a token but
// before its answer arrived leaves that token unrevoked (it was never
// seen); one whose answer does arrive is revoked.
//
// A Verifier accepts asymmetric algorithms only: "none" and HMAC are
// refused, each key verifies only the algorithms of its own type, and a
// key declared for one algorithm (a JWK's "alg", which [RemoteKeys] and
// [JWTIssuer] report) verifies that one alone (no algorithm confusion). A
// RemoteKeys trusts the keys of a set it cannot refresh for
// RemoteKeysOptions.MaxStale (24 h), no longer.
package tokens
