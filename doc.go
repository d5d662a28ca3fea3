// Package strongroom is a library for handling secrets inside a running Go
// process: tokens, certificates, passwords and keys.
//
// It loads secrets from pluggable backends into sealed memory, keeps them
// fresh in the background, tells the program when one rotates so that it
// never needs a restart, and makes the whole lifecycle visible: where each
// secret came from, who owns it, when it expires, when it last rotated, who
// read it.
//
// This package holds only this overview. Programs use:
//
//   - [github.com/strongroom/strongroom/secrets]: the Store, its secrets,
//     events, scopes, inventory and health;
//   - [github.com/strongroom/strongroom/providers/file],
//     [github.com/strongroom/strongroom/providers/env]: backends;
//   - [github.com/strongroom/strongroom/providers/memory]: the in-memory
//     fake, with a virtual clock, for tests;
//   - [github.com/strongroom/strongroom/certs]: TLS certificates and trust
//     bundles held in the store, hot-reloaded into crypto/tls, renewed by
//     an ACME CA or a development CA;
//   - [github.com/strongroom/strongroom/tokens]: OAuth 2.0 access tokens
//     (client credentials, refresh tokens, private_key_jwt) cached and
//     refreshed ahead of expiry, and JWTs signed and verified with keys
//     from the store;
//   - [github.com/strongroom/strongroom/rotate]: active rotation (create,
//     set, test, promote, retire, roll back), crash-safe and once per
//     fleet, with targets in [github.com/strongroom/strongroom/rotate/postgres]
//     and [github.com/strongroom/strongroom/rotate/hydra].
//
// Backends implement [github.com/strongroom/strongroom/providers] and pass
// [github.com/strongroom/strongroom/providers/providertest].
package strongroom
