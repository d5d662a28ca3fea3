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
// The verifier is computed in buffers that are wiped on return. Test is
// the exception: pgx takes the password as a Go string, a copy that cannot
// be wiped (see [Target.Test]). A verifier lets a server check logins,
// not log in, but it allows guessing the password offline: a server that
// logs statements (log_statement = 'ddl' or 'all') keeps it, and by
// default (log_min_error_statement = error) so does one where the ALTER
// ROLE fails. Roles must log in with scram-sha-256 for a failed Test or a
// Retire to mean anything.
package postgres
