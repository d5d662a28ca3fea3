// Package file is a strongroom provider that reads secrets from files: a
// file holding one secret, or one part of a JSON, dotenv or PEM file. It
// watches files for changes, including the symbolic link swap by which
// Kubernetes updates a mounted secret volume, and writes and deletes whole
// files atomically, also conditionally ([Provider.WriteIf]) with a lock
// that processes sharing the directory respect.
//
// # References
//
//	file:///run/secrets/db                    the whole file (absolute path)
//	file:db/password                          relative to Options.Root
//	file:///etc/app/secrets.json#/db/password a JSON Pointer (RFC 6901)
//	file:///etc/app/secrets.json#password     a top-level JSON member
//	file:///etc/app/.env#DB_PASSWORD          a dotenv variable
//	file:///etc/tls/server.pem#cert           every CERTIFICATE block
//	file:///etc/tls/server.pem#key            the one private key block
//	file:///etc/tls/bundle.pem#EC%20PARAMETERS every block of that type
//	file:///run/secrets/config?format=json#/a the format named explicitly
//
// The path and the fragment are percent-decoded. A relative path needs
// [Options].Root; "file://localhost/..." is accepted, other hosts are not.
// The format is the one named by "?format=" (raw, json, dotenv or pem), or
// else the one the extension implies: .json is json, .env is dotenv, .pem,
// .crt, .cer and .key are pem, anything else raw. A raw file is returned
// byte for byte, trailing newline included, and has no parts.
//
// A structured file is always parsed in full, even when the reference
// selects no part, so a half-written JSON or PEM file is refused rather than
// handed over. A JSON string is returned unescaped; any other JSON value as
// its JSON text. A member name that appears twice on the path to the
// selected value, and a dotenv variable set twice, are errors: parsers
// disagree on which one wins. A PEM file must not contain a "-----BEGIN"
// that does not start a well-formed block; text between blocks is allowed.
// The "key" part selects a block of type PRIVATE KEY, RSA PRIVATE KEY or EC
// PRIVATE KEY, and more than one such block is an error.
//
// The dotenv syntax is NAME=value lines with an optional "export " prefix,
// '#' comments and blank lines; single-quoted values are literal,
// double-quoted ones understand \n, \r, \t, \" and \\; both may span lines.
//
// # Concurrency
//
// A [Provider] is safe for concurrent use, including concurrently with
// Close. Every watch shares one fsnotify watcher and one goroutine, started
// by the first Watch; Close stops them and waits. Fetch runs on the
// caller's goroutine, and may wait there, up to its context's end, for a
// file that has just changed to settle.
//
// # Errors
//
// Errors wrap the sentinels of package providers: [providers.ErrNotFound]
// for a missing file or part, [providers.ErrInvalidRef] for a malformed
// reference or one that leaves [Options].Root, [providers.ErrInvalid] for a
// file that does not parse, is not a regular file or is larger than
// [Options].MaxSize, [providers.ErrPermission], [providers.ErrClosed], and
// [providers.ErrUnsupported] for writing or deleting a part of a file (or
// for WriteIf on a system without file locks), and [providers.ErrConflict]
// for a WriteIf whose version is not the file's current one.
// Messages start with "providers/file: " and name the path, and the
// fragment of the reference when it has one. An error about a file's
// content gives a line and a column (counted in bytes from 1) and a
// message from a fixed set, never text from the file: not even a
// variable or member name, since a value pasted onto a line of its own
// reads as one.
//
// # Security
//
// Secret bytes are kept out of Go strings and out of log lines and error
// messages. The buffer a file is read into is handed over as Value.Data
// when the whole file is the value; otherwise it is wiped once the part is
// copied out, and so is the decoded DER of every PEM block. Within the
// limits of the language this is best effort: the kernel's page cache keeps
// the file's content for as long as it likes, the Go runtime may have
// copied a buffer (while growing a stack, say) before it was wiped, and
// the header lines of PEM blocks are parsed into Go strings.
//
// With [Options].Root set, every path is resolved through an [os.Root], so
// that neither "..", nor an absolute path elsewhere, nor a symbolic link
// can lead outside it. Without it, any absolute path the process can read
// is accepted: do not build references from untrusted input then.
//
// Fetch warns once per path, through [Options].Logger, when a file is
// readable or writable by group or others (on Unix). Value.Version is a
// keyed hash whose key is random per Provider, so it reveals nothing
// about short secrets.
//
// # Writing secret files
//
// A file rewritten in place (opened with O_TRUNC, then written) is empty,
// then partly written, for as long as its writer takes; a reader can see
// either state. The provider guards against it twice: it reads a file
// only once its size, modification time and inode have stayed the same
// for [Options].Settle (100 ms by default), and it compares them before
// and after the read, reading again when they differ. Neither guard is
// complete: a writer that pauses longer than the settle period, or a
// rewrite that keeps the size within the file system's time resolution,
// gets past them. For the old value never to be replaced by a partial
// one, write as [Provider.Write] does:
//
//  1. write the new content to a temporary file in the same directory
//     (a rename does not cross file systems), with mode 0600;
//  2. fsync the temporary file, so the content is on disk before the
//     name points to it;
//  3. rename it over the secret file, which swaps the name atomically:
//     readers see the old file or the new one, never a mix;
//  4. fsync the directory, so the rename survives a crash.
//
// Kubelet (its "..data" link swap) and certbot (links in live/
// replaced, files in archive/ never rewritten) already work this way.
//
// # Conditional writes and lock files
//
// [Provider.WriteIf] writes a file only if its current version is the one
// the caller names ("" for a file that must not exist), and otherwise
// fails with [providers.ErrConflict]: several processes sharing a
// directory can agree on which of them changes a file. The check and the
// write are atomic with respect to every Write, WriteIf and Delete of the
// same file, in this process or in another on the same machine, because
// each of them holds an exclusive lock (flock(2) on Unix, LockFileEx on
// Windows) on a lock file beside the target: ".NAME.lock" in the same
// directory ("/run/app/.state.json.lock" for "/run/app/state.json"),
// created empty with mode 0600 on first use, and never removed by the
// provider: a lock file removed while a process waits on it would let two
// processes lock two different files. A program that cleans the directory
// must leave the lock files of files still in use. Programs that write
// the file without taking the lock are not excluded, and network file
// systems may not honour it. Where the system has no such locks (Unix
// systems other than Linux, macOS and the BSDs), WriteIf fails with
// [providers.ErrUnsupported] and Write and Delete take no lock.
//
// Versions are keyed hashes of the content under a key random per
// [Provider] (see Security above), so no process can compare its versions
// with another's: each process fetches, then conditions its WriteIf on the
// version its own Provider reported, and WriteIf hashes the file's current
// content under the same key. Equal versions therefore mean equal
// content: a file changed and then changed back compares equal, so
// content whose history matters should carry a counter or a random token.
package file
