package postgres_test

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/rotate/postgres"
	"github.com/strongroom/strongroom/secrets"
)

// A pool whose every new connection logs in with the credential of the
// alternating pair app_a and app_b that the store holds at that moment.
// Compiled only: it needs a server.
func ExampleBeforeConnect() {
	ctx := context.Background()
	run := func(store *secrets.Store) error {
		cfg, err := pgxpool.ParseConfig("host=db.internal dbname=app sslmode=verify-full")
		if err != nil {
			return err
		}
		cfg.BeforeConnect = postgres.BeforeConnect(store, "db", "app_a", "app_b")
		cfg.MaxConnLifetime = 30 * time.Minute
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer pool.Close()
		_, err = pool.Exec(ctx, "SELECT 1")
		return err
	}
	_ = run
}
