// Package hydra is a [rotate.Target] for the client secret of an OAuth 2.0
// client registered at Ory Hydra (v2), rotated in place: Hydra holds one
// secret per client, so [Target.Set] replaces it and the old one stops
// working at once. Use it with [rotate.InPlace] (the account "" or the
// client ID).
//
//	target, err := hydra.New("https://hydra-admin.internal:4445", "batch-job",
//		&hydra.Options{TokenURL: "https://auth.example/oauth2/token", Scopes: []string{"reports:read"}})
//
// [Target.Set] changes the secret through Hydra's admin API with one JSON
// Patch of the client's "client_secret" (PATCH /admin/clients/{id}), the
// narrowest call Hydra offers: this package neither reads nor sends any
// other field of the registration, so it never puts back a stale copy of
// one.
// [Target.Test] requests a token with the client credentials grant at the
// public token endpoint, authenticating with the credential as a consumer
// would (client_secret_basic or client_secret_post). [Target.Retire] has
// nothing to do in place and returns nil.
//
// Consumers that read the secret through a secrets.Store and fetch
// tokens with a tokens.Client ride through the moment between Set and the
// store's refresh: a Client refused with invalid_client refreshes the
// secret from the store's backend and retries once.
//
// # Concurrency
//
// A [Target] is immutable after [New] and safe for concurrent use. Two
// Sets of the same client at once race at Hydra: the one written last
// wins, as with any in-place target.
//
// # Errors
//
// Errors are prefixed "rotate/hydra: " and match, with errors.Is,
// [ErrInvalid] (an argument or a credential this target cannot use),
// [ErrNotFound] (Hydra has no such client) or [ErrRejected] (the token
// endpoint refused the credential in Test; the OAuth error code is in the
// message). A transport error keeps its cause (a *net.OpError,
// context.DeadlineExceeded), but not net/http's *url.Error, whose URL
// would be shown unredacted.
//
// # Security
//
// No error, and no output of fmt, quotes the secret: Hydra's error text is
// withheld when it shares a run of 8 bytes (fewer for a short secret)
// with the secret in any form it was sent in (see internal/leak), and URLs are shown with their user
// information and query values withheld (internal/redact); a [Target] and
// [Options] show theirs that way in fmt (every verb), slog and text
// output. URLs with user information are refused: credentials for the
// admin API belong in the transport of Options.HTTPClient.
//
// The secret is copied only where a request needs it, and those copies are
// wiped when the call returns: the JSON body of Set (the secret
// JSON-encoded, built once in a buffer of the right size, never as a Go
// string), the client_secret_post body of Test, and the bodies of Hydra's
// answers (Set's echoes the new secret; Test's holds an access token). The
// copies this package cannot wipe: the client_secret_basic header of Test
// (net/http takes headers as Go strings, so the base64 of the client ID
// and secret stays on the heap until the collector reclaims it); the HTTP
// transport's read and write buffers, which hold every request and answer
// (the default client keeps no connection alive, so they are freed, not
// wiped, with the connection; over HTTPS they hold ciphertext, but
// crypto/tls's record buffers do not); the kernel's socket buffers; and
// whatever an HTTP client given in Options.HTTPClient keeps. The default
// client follows no redirect, and a redirect answer is an error; a client
// of the program's does not follow one of a request with a body either
// (307 or 308: the body cannot be replayed), so the secret is not sent to
// another URL than the one configured. The access token Test obtains is
// wiped, not revoked: it expires on its own.
package hydra
