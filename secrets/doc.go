// Package secrets is what programs call to hold secrets: tokens,
// certificates, passwords and keys.
//
// A [Store] loads each declared secret ([Spec]) from the provider its
// reference names ("file:///run/secrets/db", "env://API_KEY", ...), keeps
// the value sealed (encrypted) in memory, refreshes it in the background,
// and tells subscribers when it changes, so that the program never needs a
// restart to pick up a new credential:
//
//	files, err := file.New(&file.Options{Root: dir}) // "/run/secrets", say
//	store, err := secrets.Open(ctx, &secrets.Options{
//		Providers: map[string]providers.Provider{"file": files, "env": env.New(nil)},
//		Logger:    slog.Default(),
//	})
//	err = store.Add(secrets.Spec{Name: "db", Ref: "file:db", Kind: secrets.KindPassword})
//	err = store.Use(ctx, "db", func(pw []byte) error { return connect(pw) })
//	cancel, err := store.Subscribe("db", func(e secrets.Event) { reconnect() })
//
// (Example_files runs this, with a file rewritten under it.)
//
// # Lifecycle
//
// Creation: [Store.Create] generates passwords and keys straight into locked
// memory. Storage: values are sealed with XSalsa20-Poly1305 under a key held
// in locked memory. Access: [Store.Scope] gives each consumer a [View] that
// reads only its own secrets, and every read is counted and can be logged.
// Use: plaintext exists only inside [Secret.Use], in locked scratch memory
// wiped on return. Rotation: refresh ahead of expiry, polling, or push from
// providers that watch; validation before a swap; an overlap window for the
// previous version ([Store.Previous]); typed [Event]s. Revocation and
// deletion: [Store.Revoke], [Store.Forget] and [Store.Delete] wipe at once
// and keep the metadata; Forget touches memory only, Revoke also revokes
// the versions at the backend, Delete also deletes the secret there. Inventory: [Store.Inventory]. Monitoring:
// OpenTelemetry metrics and fetch spans, slog audit records, [Store.Health].
//
// # Freshness
//
// A value with an expiry is refreshed after RefreshPolicy.Ahead (two
// thirds) of its lifetime, brought forward by a random jitter; one without
// is polled at RefreshPolicy.Interval, if set, and refreshed whenever its
// provider signals a change. One fetch per secret runs at a time however
// many goroutines read it, and once a value exists no read waits for a
// fetch. A failed fetch is retried with exponential backoff and full
// jitter. Meanwhile the last good value is served for at most
// Spec.MaxStale and never past its expiry; then reads fail with [ErrStale]
// or [ErrExpired] and [Store.Health] names the secret.
//
// # Concurrency
//
// Every method of [Store], [View] and [Secret] is safe for concurrent use.
// The Store runs one scheduler goroutine, one goroutine per fetch under way
// and one per subscriber; [Store.Close] stops and waits for all of them.
// Event hooks run on their subscriber's goroutine, in order, never under a
// lock of the Store.
//
// # Errors
//
// Errors are *[Error] values naming the operation and the secret, matched
// with errors.Is against the sentinels ([ErrNotFound], [ErrStale],
// [ErrExpired], [ErrRevoked], [ErrPermission], [ErrInvalid],
// [ErrLockedMemory], ...) and against the providers package's sentinels for
// the provider error they wrap.
//
// # Security
//
// No value ever reaches a log record, an error, an event, a metric
// attribute, a span, fmt output or JSON: [Secret] redacts itself in every
// format, and an error from a validator or backend that quotes the value is
// replaced. Honest limits: a value passes through the Go heap on its way in
// (a file read, an HTTP response) and the runtime may copy it before it is
// sealed; providers wipe the buffers they own, but not the runtime's
// copies. A function passed to Use that copies the value, or a parsed key
// or a token put in an HTTP header, lives on the ordinary heap. The
// decryption sub-key and key stream pass through the goroutine stack.
// Importing this package (through memguard) disables core dumps for the
// process. Locked memory is budgeted ([Options.MaxLockedMemory], bounded by
// RLIMIT_MEMLOCK); running out is an error matching [ErrLockedMemory],
// never a panic.
package secrets
