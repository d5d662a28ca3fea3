// Package env is a [providers.Provider] that reads secrets from environment
// variables.
//
// References have the form "env://NAME" or "env:NAME", where NAME is a
// variable name: ASCII letters, digits and underscores, not starting with a
// digit ("env://DB_PASSWORD"). Anything else is refused with
// [providers.ErrInvalidRef]. A variable that is set, even to the empty
// string, is found; one that is not set gives [providers.ErrNotFound].
// Versions are keyed hashes of the value (package internal/vhash): equal
// inside the process for equal values, and meaningless outside it.
//
// The provider has no optional abilities: the environment gives no change
// signal (it is not a [providers.Watcher]), and writing secrets into it would
// spread them to every child process.
//
// With [Options].Unset, a variable is removed from the process environment
// after its first successful fetch, so that child processes started later do
// not inherit it. Later fetches of it then give [providers.ErrNotFound], which
// the store treats as a failed refresh: it keeps serving the value it has for
// the secret's staleness budget and then reports it stale. Secrets read from
// the environment are normally not polled (the environment of a running
// process does not change from outside), so give them no refresh interval,
// and with Unset one store, not several, should read each variable.
//
// # Concurrency
//
// A [Provider] is safe for concurrent use. With Unset, fetches are
// serialised so that exactly one fetch of a variable gets its value.
// Changing the environment while the program runs (os.Setenv) is safe, as far
// as Go is concerned, but C code reading the environment concurrently is not.
//
// # Errors
//
// Errors start with "providers/env: " and wrap [providers.ErrInvalidRef],
// [providers.ErrNotFound], [providers.ErrClosed] or the context's error; a
// failure of Options.Unsetenv wraps [providers.ErrPermission] and that
// error. No error contains a value, and an invalid reference is described
// by a byte offset, not repeated.
//
// # Security
//
// The environment is a weak place for secrets, and this provider cannot
// make it a strong one. Be aware of these limits:
//
//   - The value exists as a Go string, returned by os.LookupEnv: strings are
//     immutable, so that copy cannot be wiped and stays on the heap until
//     the garbage collector reuses its memory. The provider hands out a
//     fresh []byte copy that the caller can wipe.
//   - Unset removes the variable from the environment that Go (and, with
//     cgo, the C library) keeps, and so from children started afterwards.
//     It does not change /proc/self/environ, which shows the environment the
//     process started with whatever Unset does, to the same user and to
//     root, nor the copies a child started earlier has, nor core dumps.
//   - Any code in the process can read the environment, before or after
//     this provider does.
//
// Prefer files on a memory file system, or a secrets server, for secrets
// that matter; the environment suits bootstrap credentials and development.
package env
