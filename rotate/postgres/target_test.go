package postgres

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/rotate"
)

// TestTarget runs against one real server; each subtest has roles of its
// own.
func TestTarget(t *testing.T) {
	pg := testservers.StartPostgres(t)
	ctx := context.Background()
	createRoles := func(t *testing.T, roles ...string) {
		t.Helper()
		for _, r := range roles {
			if _, err := pg.Admin.Exec(ctx, "CREATE ROLE "+pgx.Identifier{r}.Sanitize()+" NOLOGIN"); err != nil {
				t.Fatal(err)
			}
		}
	}
	newTarget := func(t *testing.T, opts *Options) *Target {
		t.Helper()
		target, err := New(pg.Admin, opts)
		if err != nil {
			t.Fatal(err)
		}
		return target
	}
	cred := func(account, secret string) rotate.Credential {
		return rotate.Credential{Account: account, Secret: []byte(secret)}
	}
	mustSet := func(t *testing.T, target *Target, c rotate.Credential) {
		t.Helper()
		if err := target.Set(ctx, c); err != nil {
			t.Fatalf("Set(%s): %v", c.Account, err)
		}
	}
	loginOK := func(t *testing.T, target *Target, c rotate.Credential) {
		t.Helper()
		if err := target.Test(ctx, c); err != nil {
			t.Errorf("Test(%s) with its password: %v", c.Account, err)
		}
	}
	loginFails := func(t *testing.T, target *Target, c rotate.Credential) {
		t.Helper()
		err := target.Test(ctx, c)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "28P01" { // invalid_password
			t.Errorf("Test(%s) = %v, want a login refused with SQLSTATE 28P01", c.Account, err)
		}
	}

	t.Run("InPlace", func(t *testing.T) {
		createRoles(t, "inplace_app")
		target := newTarget(t, &Options{Roles: []string{"inplace_app"}})
		old, next := cred("inplace_app", "old-password-1"), cred("inplace_app", "new-password-2")
		mustSet(t, target, old)
		loginOK(t, target, old)
		mustSet(t, target, next)
		loginOK(t, target, next)
		loginFails(t, target, old)
		if err := target.Retire(ctx, next); err != nil {
			t.Errorf("Retire in place: %v", err)
		}
		loginOK(t, target, next)
	})

	t.Run("Alternating", func(t *testing.T) {
		createRoles(t, "alt_a", "alt_b")
		target := newTarget(t, &Options{Roles: []string{"alt_a", "alt_b"}})
		a1, b1, a2 := cred("alt_a", "a-first"), cred("alt_b", "b-first"), cred("alt_a", "a-second")
		mustSet(t, target, a1) // alt_a current
		mustSet(t, target, b1) // alt_b idle, then current
		loginOK(t, target, b1)
		loginOK(t, target, a1) // during the overlap both log in
		if err := target.Retire(ctx, b1); err != nil {
			t.Fatal(err)
		}
		loginFails(t, target, a1)
		loginOK(t, target, b1)

		// The next rotation goes back to alt_a.
		mustSet(t, target, a2)
		loginOK(t, target, a2)
		loginOK(t, target, b1)
		if err := target.Retire(ctx, a2); err != nil {
			t.Fatal(err)
		}
		loginFails(t, target, b1)
		loginOK(t, target, a2)
	})

	t.Run("Idempotent", func(t *testing.T) {
		createRoles(t, "idem_a", "idem_b")
		target := newTarget(t, &Options{Roles: []string{"idem_a", "idem_b"}})
		a, b := cred("idem_a", "idem-a-secret"), cred("idem_b", "idem-b-secret")
		for range 2 {
			mustSet(t, target, a)
			mustSet(t, target, b)
		}
		loginOK(t, target, a)
		loginOK(t, target, b)
		for range 2 {
			if err := target.Retire(ctx, b); err != nil {
				t.Fatalf("Retire again: %v", err)
			}
		}
		loginFails(t, target, a)
		loginOK(t, target, b)
		var retired bool
		if err := pg.Admin.QueryRow(ctx, "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'idem_a'").Scan(&retired); err != nil {
			t.Fatal(err)
		}
		if !retired {
			t.Error("idem_a still has a password after Retire")
		}
		for range 2 {
			loginOK(t, target, b) // Test has no side effect either
		}
	})

	t.Run("NotManaged", func(t *testing.T) {
		createRoles(t, "managed", "bystander")
		target := newTarget(t, &Options{Roles: []string{"managed"}})
		mustSet(t, target, cred("managed", "managed-secret"))
		other := newTarget(t, &Options{Roles: []string{"bystander"}})
		mustSet(t, other, cred("bystander", "bystander-secret"))

		for _, account := range []string{"bystander", "", "MANAGED"} {
			c := cred(account, "not-managed-secret")
			for name, call := range map[string]func(context.Context, rotate.Credential) error{
				"Set": target.Set, "Test": target.Test, "Retire": target.Retire,
			} {
				err := call(ctx, c)
				if !errors.Is(err, ErrNotManaged) {
					t.Errorf("%s(%q) = %v, want ErrNotManaged", name, account, err)
					continue
				}
				if want := fmt.Sprintf("%s role %q", name, account); !strings.Contains(err.Error(), want) {
					t.Errorf("%s(%q) = %q, want it to say %s", name, account, err, want)
				}
			}
		}
		// Nothing was changed on the role the target does not manage.
		loginOK(t, other, cred("bystander", "bystander-secret"))
		loginOK(t, target, cred("managed", "managed-secret"))
	})

	t.Run("VerifierAsServerMakesIt", func(t *testing.T) {
		createRoles(t, "verifier")
		// The server's own verifier of a plaintext password (test only:
		// the plaintext goes through SQL here) matches ours for its salt.
		const pw = "Server-Side 1!"
		if _, err := pg.Admin.Exec(ctx, "ALTER ROLE verifier PASSWORD '"+pw+"'"); err != nil {
			t.Fatal(err)
		}
		var stored string
		if err := pg.Admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'verifier'").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		salt64, _, _ := strings.Cut(strings.TrimPrefix(stored, "SCRAM-SHA-256$4096:"), "$")
		salt, err := base64.StdEncoding.DecodeString(salt64)
		if err != nil {
			t.Fatalf("the server's verifier %q: %v", stored, err)
		}
		if got := scramVerifier([]byte(pw), salt, 4096); got != stored {
			t.Errorf("our verifier for the server's salt:\n got %s\nwant %s", got, stored)
		}

		// And the server stores what Set sends, as it is.
		fixed := bytes.Repeat([]byte{7}, scramSaltLen)
		target := newTarget(t, &Options{Roles: []string{"verifier"}, Rand: bytes.NewReader(fixed)})
		mustSet(t, target, cred("verifier", "set-by-target"))
		if err := pg.Admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'verifier'").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if want := scramVerifier([]byte("set-by-target"), fixed, scramIterations); stored != want {
			t.Errorf("pg_authid holds %s, want %s", stored, want)
		}
		loginOK(t, target, cred("verifier", "set-by-target"))
	})

	t.Run("Template", func(t *testing.T) {
		createRoles(t, "templated")
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=postgres sslmode=disable", pg.Host, pg.Port))
		if err != nil {
			t.Fatal(err)
		}
		user := cfg.User // pgx's default: the OS user
		target := newTarget(t, &Options{Roles: []string{"templated"}, ConnConfig: cfg, ConnectTimeout: 5 * time.Second})
		c := cred("templated", "templated-secret")
		mustSet(t, target, c)
		loginOK(t, target, c)
		if cfg.User != user || cfg.Password != "" {
			t.Error("New or Test changed the caller's template")
		}

		// Options.Database overrides the template's.
		elsewhere := newTarget(t, &Options{Roles: []string{"templated"}, ConnConfig: cfg, Database: "no_such_db"})
		var pgErr *pgconn.PgError
		if err := elsewhere.Test(ctx, c); !errors.As(err, &pgErr) || pgErr.Code != "3D000" {
			t.Errorf("Test on a missing database = %v, want SQLSTATE 3D000", err)
		}
		// A template holding a password does not log in for a wrong secret.
		withPassword := cfg.Copy()
		withPassword.Password = "templated-secret"
		target = newTarget(t, &Options{Roles: []string{"templated"}, ConnConfig: withPassword})
		loginFails(t, target, cred("templated", "wrong"))
	})

	t.Run("ErrorsHoldNoSecret", func(t *testing.T) {
		const secret = "Qz8v-POSTGRES-SECRET-k4j7"
		createRoles(t, "quiet")
		target := newTarget(t, &Options{Roles: []string{"quiet", "ghost"}}) // ghost does not exist
		mustSet(t, target, cred("quiet", "quiet-current"))
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		closed := newTarget(t, &Options{Roles: []string{"quiet"}, Port: uint16(testservers.FreePort(t))})

		var errs []error
		add := func(err error) {
			if err == nil {
				t.Errorf("call %d succeeded, want an error", len(errs)+1)
			}
			errs = append(errs, err)
		}
		add(target.Test(ctx, cred("quiet", secret)))               // wrong password
		add(target.Set(ctx, cred("ghost", secret)))                // no such role
		add(target.Test(ctx, cred("ghost", secret)))               // no such role
		add(target.Retire(ctx, cred("quiet", secret)))             // retiring ghost fails
		add(target.Set(canceled, cred("quiet", secret)))           // canceled
		add(target.Test(canceled, cred("quiet", secret)))          // canceled
		add(closed.Test(ctx, cred("quiet", secret)))               // nothing listens
		add(target.Set(ctx, cred("outsider", secret)))             // not managed
		add(target.Set(ctx, cred("quiet", "pässwörd-"+secret)))    // refused
		add(target.Test(ctx, cred("quiet", "with\x00"+secret)))    // NUL
		add(target.Set(ctx, cred("quiet", secret[:0])))            // empty
		add(target.Test(ctx, rotate.Credential{Account: "quiet"})) // nil
		checkNoSecret(t, errs, secret)
		loginOK(t, target, cred("quiet", "quiet-current"))
	})
}

// checkNoSecret fails t if any error, or anything it wraps, shows secret
// in any form redacttest knows, or if pgx's connection error still holds
// a password.
func checkNoSecret(t *testing.T, errs []error, secret string) {
	t.Helper()
	forms := redacttest.Forms([]byte(secret))
	for i, err := range errs {
		for _, e := range redacttest.Chain(err) {
			if f := redacttest.Find(redacttest.Render(e), forms); f != "" {
				t.Errorf("error %d (%T in the chain of %v) shows the secret as %q", i+1, e, err, f)
			}
		}
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) && ce.Config != nil && ce.Config.Password != "" {
			t.Errorf("error %d: pgx's ConnectError still holds the password in its Config", i+1)
		}
	}
}

func TestNew(t *testing.T) {
	// pgxpool connects lazily: nothing listens here, and nothing needs to.
	pool, err := pgxpool.New(context.Background(), "host=127.0.0.1 port=1 user=admin password=admin-pw dbname=app sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, tt := range []struct {
		name  string
		admin *pgxpool.Pool
		opts  *Options
		want  string
	}{
		{"nil admin", nil, &Options{Roles: []string{"a"}}, "admin pool"},
		{"nil options", pool, nil, "Roles is empty"},
		{"no roles", pool, &Options{}, "Roles is empty"},
		{"three roles", pool, &Options{Roles: []string{"a", "b", "c"}}, "3 roles"},
		{"duplicate", pool, &Options{Roles: []string{"a", "a"}}, `"a" twice`},
		{"empty role", pool, &Options{Roles: []string{""}}, "0 bytes"},
		{"long role", pool, &Options{Roles: []string{strings.Repeat("r", 64)}}, "64 bytes"},
		{"NUL", pool, &Options{Roles: []string{"a\x00b"}}, "NUL"},
		{"one", pool, &Options{Roles: []string{"a"}}, ""},
		{"two", pool, &Options{Roles: []string{"a", "b"}}, ""},
		{"63 bytes", pool, &Options{Roles: []string{strings.Repeat("r", 63)}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.admin, tt.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New = %v, want success", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New = %v, want an error saying %q", err, tt.want)
			}
		})
	}

	// The template from the admin pool keeps where to connect and drops
	// the admin's credentials; Options override it.
	target, err := New(pool, &Options{Roles: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	tc := target.template
	if tc.Host != "127.0.0.1" || tc.Port != 1 || tc.Database != "app" || tc.User != "" || tc.Password != "" || tc.ConnectTimeout != defaultConnectTimeout {
		t.Errorf("template from the pool: host %q port %d db %q user %q password set %v timeout %v", tc.Host, tc.Port, tc.Database, tc.User, tc.Password != "", tc.ConnectTimeout)
	}
	target, err = New(pool, &Options{Roles: []string{"a"}, Host: "db.internal", Port: 6432, Database: "other", ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if tc := target.template; tc.Host != "db.internal" || tc.Port != 6432 || tc.Database != "other" || tc.ConnectTimeout != time.Second {
		t.Errorf("template with overrides: host %q port %d db %q timeout %v", tc.Host, tc.Port, tc.Database, tc.ConnectTimeout)
	}
}
