package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/rotate"
)

// TestRedactionEveryType renders a sample of every exported type of the
// package, built after calls that had the marker as their secret, every
// way a program could print or log it. (The root package's
// TestRedactionEveryPackage does this for the packages it has samples
// for; this package's samples need a Target that has failed.)
func TestRedactionEveryType(t *testing.T) {
	const marker = "Qz8v-PLAINTEXT-MARKER-k4j7"
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "host=127.0.0.1 port=1 user=admin password="+marker+" dbname=app sslmode=disable connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tmpl, err := pgx.ParseConfig("host=127.0.0.1 port=1 password=" + marker)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.TLSConfig = &tls.Config{ServerName: "db.internal"}
	opts := Options{Roles: []string{"app_a", "app_b"}, ConnConfig: tmpl, Database: "app"}
	target, err := New(pool, &opts)
	if err != nil {
		t.Fatal(err)
	}
	c := rotate.Credential{Account: "app_a", Secret: []byte(marker)}
	testErr := target.Test(ctx, c) // nothing listens on port 1
	setErr := target.Set(ctx, c)
	outsider := target.Set(ctx, rotate.Credential{Account: "outsider", Secret: []byte(marker)})
	var e *Error
	if !errors.As(testErr, &e) || setErr == nil || !errors.Is(outsider, ErrNotManaged) {
		t.Fatalf("errors: %v; %v; %v", testErr, setErr, outsider)
	}
	samples := map[string][]any{
		"Error":   {e, *e, testErr, setErr, outsider},
		"Options": {opts, &opts},
		"Target":  {target, []*Target{target}},
	}
	redacttest.Check(t, ".", samples, redacttest.Forms([]byte(marker)))
}
