package testservers

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartPostgres(t *testing.T) {
	p := StartPostgres(t)
	ctx := context.Background()
	var version string
	if err := p.Admin.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s on port %d", version, p.Port)

	conn, err := pgx.Connect(ctx, p.DSN(PostgresUser, p.Password, "postgres"))
	if err != nil {
		t.Fatalf("superuser login with DSN: %v", err)
	}
	conn.Close(ctx)
	if conn, err := pgx.Connect(ctx, p.DSN(PostgresUser, "wrong 'password'", "postgres")); err == nil {
		conn.Close(ctx)
		t.Fatal("a wrong password logged in: is authentication scram-sha-256?")
	}
	if log := p.Log(); strings.Contains(log, p.Password) {
		t.Errorf("Log shows the superuser password")
	}
}
