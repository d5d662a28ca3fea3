package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/rotate/postgres"
	"github.com/strongroom/strongroom/secrets"
)

// The alternating pair: at any time one role is current and the other idle,
// and the new password goes to the idle one. dbName is their secret, the
// file db in the temporary directory, whose value names the role:
// {"account":"strongroom_example_a","secret":"..."}.
const (
	roleA  = "strongroom_example_a"
	roleB  = "strongroom_example_b"
	dbName = "db"
)

// startPostgres creates the two roles, gives the first a password, and
// returns them with their clients: one pool per client, whose every new
// connection logs in with the credential the store holds at that moment.
func startPostgres(ctx context.Context, cfg config, store *secrets.Store, dir string, out io.Writer) (sys *system, err error) {
	adminCfg, err := pgxpool.ParseConfig(cfg.Postgres)
	if err != nil {
		return nil, fmt.Errorf("-postgres: %w", err)
	}
	admin, err := pgxpool.NewWithConfig(ctx, adminCfg)
	if err != nil {
		return nil, err
	}
	var pools []*pgxpool.Pool
	stop := func() {
		for _, p := range pools {
			p.Close()
		}
		// Leave the server as it was: the roles go, and with them the
		// password that only the temporary directory held.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, role := range []string{roleA, roleB} {
			if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
				fmt.Fprintf(out, "rotation: cannot drop role %s: %v\n", role, err)
			}
		}
		admin.Close()
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()

	// The roles may log in; neither has a password yet. Idempotent: a run
	// that was killed left them behind.
	for _, role := range []string{roleA, roleB} {
		if err := ensureRole(ctx, admin, role); err != nil {
			return nil, err
		}
	}
	// Set sends the server a SCRAM verifier of each new password, Test
	// logs in with it, Retire sets the other role's password to NULL.
	target, err := postgres.New(admin, &postgres.Options{Roles: []string{roleA, roleB}})
	if err != nil {
		return nil, err
	}
	// The first value: a password for roleA, made in locked memory and
	// written to the file db; the server gets it through the target.
	_, err = store.Create(ctx, secrets.Spec{Name: dbName, Ref: "file:" + dbName, Kind: secrets.KindPassword,
		Owner: "rotation-example", Classification: secrets.Restricted, Overlap: time.Minute},
		rotate.AccountGenerator(roleA, &secrets.RandomPassword{Length: 32, Alphabet: secrets.AlphabetAlphanumeric}))
	if err != nil {
		return nil, err
	}
	err = store.Use(ctx, dbName, func(v []byte) error {
		account, password, err := rotate.SplitAccount(v)
		if err != nil {
			return err
		}
		c := rotate.Credential{Account: account, Secret: password}
		if err := target.Set(ctx, c); err != nil {
			return err
		}
		return target.Retire(ctx, c)
	})
	if err != nil {
		return nil, err
	}

	var loginsA, loginsB atomic.Int64
	for range cfg.Clients {
		pc, err := pgxpool.ParseConfig(cfg.Postgres) // the user and password in it are replaced
		if err != nil {
			return nil, err
		}
		pc.BeforeConnect = postgres.BeforeConnect(store, dbName, roleA, roleB)
		// Connections live a second, so new ones are made all the time,
		// each logging in with the credential current at that moment
		// (PostgreSQL checks a password only at login).
		pc.MaxConnLifetime = time.Second
		pc.MaxConns = 2
		pc.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
			if c.Config().User == roleA {
				loginsA.Add(1)
			} else {
				loginsB.Add(1)
			}
			return nil
		}
		pool, err := pgxpool.NewWithConfig(ctx, pc)
		if err != nil {
			return nil, err
		}
		pools = append(pools, pool)
	}
	cc := adminCfg.ConnConfig
	fmt.Fprintf(out, "rotation: PostgreSQL at %s:%d, database %q, roles %s and %s; %d pools log in with the secret %q, in %s\n",
		cc.Host, cc.Port, cc.Database, roleA, roleB, cfg.Clients, dbName, filepath.Join(dir, dbName))
	return &system{
		name:     "the server",
		secret:   dbName,
		target:   target,
		strategy: rotate.Alternating(roleA, roleB),
		kind:     "alternating",
		pause:    10 * time.Millisecond,
		call: func(ctx context.Context, i int) error {
			_, err := pools[i].Exec(ctx, "SELECT 1")
			return err
		},
		accepts: func(ctx context.Context) string { return logins(ctx, admin) },
		report: func() string {
			return fmt.Sprintf("the pools logged in %d times as %s and %d as %s", loginsA.Load(), roleA, loginsB.Load(), roleB)
		},
		close: stop,
	}, nil
}

// ensureRole creates role, with LOGIN and no password, or makes an
// existing one so.
func ensureRole(ctx context.Context, admin *pgxpool.Pool, role string) error {
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return err
	}
	sql := "CREATE ROLE " + pgx.Identifier{role}.Sanitize() + " LOGIN"
	if exists {
		sql = "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " LOGIN PASSWORD NULL"
	}
	_, err := admin.Exec(ctx, sql)
	return err
}

// logins names the roles of the pair that have a password: those that can
// log in. Reading pg_authid takes a superuser.
func logins(ctx context.Context, admin *pgxpool.Pool) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, _ := admin.Query(ctx, "SELECT rolname FROM pg_authid WHERE rolname = ANY($1) AND rolpassword IS NOT NULL ORDER BY rolname",
		[]string{roleA, roleB})
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	switch {
	case err != nil:
		return "(cannot tell: " + err.Error() + ")"
	case len(roles) == 0:
		return "no login"
	}
	return "logins as " + strings.Join(roles, " and ")
}
