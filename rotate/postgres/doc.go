// Package postgres is a [rotate.Target] for the passwords of PostgreSQL
// roles: [rotate.InPlace] with one role, [rotate.Alternating] with two.
//
// An admin pool changes the passwords; consumers reach the server as the
// admin does unless [Options] say otherwise:
//
//	admin, err := pgxpool.New(ctx, adminDSN)
//	if err != nil {
//		return err
//	}
//	defer admin.Close()
//	target, err := postgres.New(admin, &postgres.Options{Roles: []string{"app_a", "app_b"}})
//	if err != nil {
//		return err
//	}
//	strategy := rotate.Alternating("app_a", "app_b")
//
// Set sends the server a SCRAM-SHA-256 verifier of the password, computed
// here, never the password itself; Test logs in as the role; Retire sets
// the other role's password to NULL.
//
// # Consumers
//
// [BeforeConnect] makes a pgxpool log every new connection in with the
// credential the store holds at that moment: the password of an in-place
// role, or the role and password an alternating pair's value names.
//
//	cfg.BeforeConnect = postgres.BeforeConnect(store, "db", "app_a", "app_b")
//
// Connections already open are left alone (PostgreSQL checks a password
// only at login); MaxConnLifetime bounds how long one made with a retired
// credential lives on. pgx takes the password as a string, a copy this
// package cannot wipe: see [BeforeConnect].
//
// # Under load
//
// The tests in load_test.go rotate while 16 consumers, each with a pool of
// its own whose connections live 0.5 to 1 s, run SELECT 1 every 10 ms
// through [BeforeConnect], all reading the rotator's own store: about 20
// logins a second that never stop. A tracer follows each connection
// attempt: when BeforeConnect read the store, when the server's first
// message (its request for the password) arrived, and the outcome. The
// figures below are from five runs on a 2-core machine shared with other
// test runs (load average 7 to 11), with and without the race detector;
// the busier the machine, the higher they are.
//
// An alternating pair, 50 rotations with Policy.Overlap 800 ms: 27,000 to
// 56,000 queries and 920 to 1,020 logins (about half as each role), not
// one failed; 0.9 to 1.3 s a rotation. PostgreSQL looks the role's
// password up when a login starts, before asking for it, and a login
// under way goes through even if the password is retired meanwhile; so a
// login fails only if the server starts it more than the overlap after
// the consumer read the store. That delay was 40 to 130 ms at the median,
// 0.2 to 0.57 s at the 99th percentile, and at most 0.86 s; in 2 of 5
// runs with an overlap of 500 ms, 2 and 3 logins (of about 1,000) failed,
// 0.72 to 0.76 s after reading the store. Policy.Overlap
// must exceed it with room to spare (it is one minute by default), plus,
// for a consumer in another process, the time its store takes to see the
// new version (its watch or refresh).
//
// In place, one role, 20 rotations 0.6 s apart: every login that starts
// between Set at the server and the promotion reaching the consumer's
// store is refused (SQLSTATE 28P01, password authentication failed), and
// nothing else fails: connections already open are unaffected. From the
// end of Set to the promotion the rotator took 70 to 250 ms on average
// (its Test step's own login, mostly), and at most 0.2 to 1 s. 57 to 149
// connection attempts failed, in 15 to 21 windows of failures (none, one
// or two a rotation); the longest window, from a failure to the end of
// the first login that read the store after it, lasted 0.25 to 1.4 s:
// that is what a consumer that keeps trying sees, Set to promotion plus
// one login. The number of failed attempts is the consumers' retry rate
// over those windows (here each one retries 60 ms after a failure); a
// consumer in another process adds its store's delay in seeing the new
// version to each window. An alternating pair avoids these failures
// altogether.
//
// # Concurrency
//
// A [Target] is safe for concurrent use. Its methods on one role should
// not run at once (the rotator never does): the last ALTER ROLE wins.
//
// # Errors
//
// Methods return an *[Error] naming the method and the role. A credential
// for a role the target does not manage matches [ErrNotManaged]. Causes
// from pgx may quote the SQL, which holds the verifier, never the password.
//
// # Security
//
// The verifier is computed in buffers that are wiped on return. Test and
// [BeforeConnect] are the exceptions: pgx takes the password as a Go
// string, a copy that cannot be wiped (see [Target.Test]). A verifier lets a server check logins,
// not log in, but it allows guessing the password offline: a server that
// logs statements (log_statement = 'ddl' or 'all') keeps it, and by
// default (log_min_error_statement = error) so does one where the ALTER
// ROLE fails. Roles must log in with scram-sha-256 for a failed Test or a
// Retire to mean anything.
package postgres
