package postgres_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/rotate/postgres"
	"github.com/strongroom/strongroom/secrets"
)

// TestBeforeConnect checks what the function sets, what it refuses, and
// that it drops the password once logged in; without a server (the load
// tests log in through it).
func TestBeforeConnect(t *testing.T) {
	const marker = "Qz8v-PLAINTEXT-MARKER-k4j7"
	ctx := context.Background()
	mem := memory.New(nil)
	values := map[string]string{
		"inplace":  marker,
		"pair":     `{"account":"app_b","secret":"` + marker + `"}`,
		"outsider": `{"account":"admin","secret":"` + marker + `"}`,
		"plain":    marker,
		"nul":      marker + "\x00",
	}
	for name, v := range values {
		mem.Set(name, []byte(v), nil)
	}
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for name := range values {
		if err := store.Add(secrets.Spec{Name: name, Ref: memory.Ref(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	config := func(t *testing.T) *pgx.ConnConfig {
		t.Helper()
		cfg, err := pgx.ParseConfig("host=127.0.0.1 port=1 user=template password=template-password dbname=app sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	for _, tt := range []struct {
		name, secret string
		roles        []string
		user         string
	}{
		{"in place", "inplace", []string{"app"}, "app"},
		{"alternating", "pair", []string{"app_a", "app_b"}, "app_b"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t)
			var chained int
			cfg.AfterConnect = func(context.Context, *pgconn.PgConn) error { chained++; return nil }
			cfg.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) { chained++; return c, nil }
			if err := postgres.BeforeConnect(store, tt.secret, tt.roles...)(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.User != tt.user || cfg.Password != marker {
				t.Fatalf("user %q, password set to the secret: %v; want %q and the secret", cfg.User, cfg.Password == marker, tt.user)
			}
			// pgx connects with a copy of cfg, which its hooks are given.
			used := cfg.Config.Copy()
			if _, err := used.AfterNetConnect(ctx, used, nil); err != nil {
				t.Fatal(err)
			}
			if err := used.AfterConnect(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if used.Password != "" || cfg.Password != "" {
				t.Error("the password is still in the configuration after the login")
			}
			if chained != 2 {
				t.Errorf("%d of the 2 hooks already set were called", chained)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			store  *secrets.Store
			secret string
			roles  []string
			want   string
		}{
			{"no store", nil, "inplace", []string{"app"}, "no store"},
			{"no roles", store, "inplace", nil, "0 roles"},
			{"three roles", store, "inplace", []string{"a", "b", "c"}, "3 roles"},
			{"same role twice", store, "pair", []string{"app_b", "app_b"}, "twice"},
			{"empty role", store, "inplace", []string{""}, "roles[0]"},
			{"long role", store, "inplace", []string{strings.Repeat("r", 64)}, "roles[0]"},
			{"unknown secret", store, "missing", []string{"app"}, "missing"},
			{"role outside the pair", store, "outsider", []string{"app_a", "app_b"}, `names role "admin"`},
			{"not a pair's value", store, "plain", []string{"app_a", "app_b"}, "must start"},
			{"NUL", store, "nul", []string{"app"}, "NUL"},
		} {
			cfg := config(t)
			err := postgres.BeforeConnect(tt.store, tt.secret, tt.roles...)(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `secret "`+tt.secret+`"`) {
				t.Errorf("%s: %v, want an error naming the secret and saying %q", tt.name, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), marker) {
				t.Errorf("%s: the error quotes the secret: %v", tt.name, err)
			}
			if cfg.User != "template" || cfg.Password != "template-password" {
				t.Errorf("%s: the configuration was changed", tt.name)
			}
		}
		err := postgres.BeforeConnect(store, "missing", "app")(ctx, config(t))
		if !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("an unknown secret: %v, want ErrNotFound", err)
		}
	})
}
