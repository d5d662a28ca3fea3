package postgres_test

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/rotate/postgres"
)

// An alternating pair of roles, app_a and app_b, rotated through an admin
// pool. Compiled only: it needs a server.
func Example() {
	ctx := context.Background()
	adminDSN := os.Getenv("ADMIN_DSN")
	run := func() error {
		admin, err := pgxpool.New(ctx, adminDSN)
		if err != nil {
			return err
		}
		defer admin.Close()
		target, err := postgres.New(admin, &postgres.Options{Roles: []string{"app_a", "app_b"}})
		if err != nil {
			return err
		}
		strategy := rotate.Alternating("app_a", "app_b")
		_, _ = target, strategy
		return nil
	}
	_ = run
}
