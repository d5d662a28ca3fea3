package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
)

// BeforeConnect returns a function for pgxpool.Config.BeforeConnect that
// logs every new connection of the pool in with the credential store holds
// as current for the secret called secret, read with [secrets.Store.Use]
// at the moment the connection is made. roles are those of the rotation,
// as in [Options.Roles]:
//
//   - one role, for [rotate.InPlace]: the value is that role's password;
//   - two roles, for [rotate.Alternating]: the value names its role and
//     holds its password ({"account":"app_b","secret":"..."}, see
//     [rotate.SplitAccount]), and a value naming a role other than these
//     two is refused.
//
// It sets the configuration's User and Password, whatever the pool's
// connection string said. Connections already open are left alone:
// PostgreSQL checks a password only at login, so the pool's
// MaxConnLifetime bounds how long a connection made with a retired
// credential lives on. With an alternating pair no login fails because
// of a rotation, as long as the server starts each one less than the
// rotation's Policy.Overlap after the store was read (PostgreSQL looks
// the password up when a login starts); in place, a login that starts
// between the new password's Set at the server and its promotion
// reaching the store fails with SQLSTATE 28P01. The package
// documentation has figures for both.
//
// With roles of any other number, or a value that is empty, holds a NUL
// byte or (for a pair) is malformed or names another role, the function
// returns an error and the connection is not attempted. Its errors name
// the secret and never quote the password.
//
// # The password as a string
//
// pgx takes the password as a Go string (pgconn.Config.Password), so the
// function makes one from the value for every connection: a copy in
// ordinary memory, outside the store's locked and sealed memory, that
// cannot be wiped and stays there until the garbage collector reuses it;
// pgx copies the configuration that holds it, and its SCRAM exchange
// derives more from it. A connection that has logged in holds it no
// longer: the function chains pgconn's AfterNetConnect and AfterConnect
// hooks to set Password to "" in the configuration pgx connected with,
// so neither the open connection nor pgx.Conn.Config keeps it. A
// connection attempt that fails does: the pool then returns a
// *pgconn.ConnectError whose Config field is that configuration,
// password included. Its message does not show it, but code that keeps
// such errors, or walks them by reflection (an encoder, a debugger),
// holds or shows the password. A Tracer in the pool's ConnConfig that
// implements pgx.ConnectTracer is given the configuration with the
// password too. This is as much as can be done without a driver that
// takes the password as bytes.
func BeforeConnect(store *secrets.Store, secret string, roles ...string) func(ctx context.Context, cfg *pgx.ConnConfig) error {
	roles = slices.Clone(roles)
	var bad error
	switch {
	case store == nil:
		bad = errors.New("no store")
	case len(roles) != 1 && len(roles) != 2:
		bad = fmt.Errorf("%d roles: name the role (in place) or the two roles (alternating)", len(roles))
	case len(roles) == 2 && roles[0] == roles[1]:
		bad = fmt.Errorf("an alternating pair names %q twice", roles[0])
	}
	for i, r := range roles {
		if bad == nil && (r == "" || len(r) > maxRole || strings.IndexByte(r, 0) >= 0) {
			bad = fmt.Errorf("roles[%d] is not a role name (1 to %d bytes, no NUL)", i, maxRole)
		}
	}
	if bad != nil {
		bad = fmt.Errorf("postgres: BeforeConnect for secret %q: %w", secret, bad)
	}
	return func(ctx context.Context, cfg *pgx.ConnConfig) error {
		if bad != nil {
			return bad
		}
		err := store.Use(ctx, secret, func(v []byte) error {
			role, password := roles[0], v
			if len(roles) == 2 {
				account, p, err := rotate.SplitAccount(v)
				if err != nil {
					return err
				}
				if account != roles[0] && account != roles[1] {
					return fmt.Errorf("the value names role %q, which is not one of the pair %q", account, roles)
				}
				role, password = account, p
			}
			switch {
			case len(password) == 0:
				return errEmpty
			case bytes.IndexByte(password, 0) >= 0:
				return errNUL
			}
			cfg.User = role
			cfg.Password = string(password) // the copy the doc comment owns up to
			return nil
		})
		if err != nil {
			return fmt.Errorf("postgres: BeforeConnect for secret %q: %w", secret, err)
		}
		// pgx.ConnectConfig connects with a copy of cfg, which only
		// AfterNetConnect is given: note it, and once logged in drop the
		// password from it (the connection's configuration for its whole
		// life) and from cfg.
		var used *pgconn.Config
		nextNet, nextAfter := cfg.AfterNetConnect, cfg.AfterConnect
		cfg.AfterNetConnect = func(ctx context.Context, c *pgconn.Config, conn net.Conn) (net.Conn, error) {
			used = c
			if nextNet != nil {
				return nextNet(ctx, c, conn)
			}
			return conn, nil
		}
		cfg.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
			// Not needed again: a cancel request uses the key the server
			// gave, and pgx never logs in again on this connection.
			if used != nil {
				used.Password = ""
			}
			cfg.Password = ""
			if nextAfter != nil {
				return nextAfter(ctx, pc)
			}
			return nil
		}
		return nil
	}
}
