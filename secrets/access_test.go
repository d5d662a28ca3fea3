package secrets_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/secrets"
)

func TestScope(t *testing.T) {
	var logs syncBuffer
	f := newFixture(t, &secrets.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), AuditReads: true})
	f.add(secrets.Spec{Name: "payments/db"}, "pay", nil)
	f.add(secrets.Spec{Name: "search/key"}, "srch", nil)
	pay, err := f.store.Scope("payments-api", "payments/*")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		wantErr error
	}{
		{"payments/db", nil},
		{"search/key", secrets.ErrPermission},
		{"payments/missing", secrets.ErrNotFound},
		{"nowhere", secrets.ErrPermission}, // refused whether or not it exists
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pay.Get(ctx(t), tt.name)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Get(%s) = %v, want %v", tt.name, err, tt.wantErr)
			}
		})
	}
	var got string
	if err := pay.Use(ctx(t), "payments/db", func(b []byte) error { got = string(b); return nil }); err != nil || got != "pay" {
		t.Errorf("View.Use = %q, %v", got, err)
	}
	f.store.Get(ctx(t), "payments/db") // a read outside any view
	md, _ := f.store.Metadata("payments/db")
	if md.Reads != 3 || md.ReadsBy["payments-api"] != 2 {
		t.Errorf("Reads = %d, ReadsBy = %v; want 3 in all, 2 by payments-api", md.Reads, md.ReadsBy)
	}
	if md, _ := f.store.Metadata("search/key"); md.Reads != 0 {
		t.Errorf("refused reads counted: %d", md.Reads)
	}
	log := logs.String()
	if !strings.Contains(log, "secret read refused") || !strings.Contains(log, "consumer=payments-api") {
		t.Errorf("refusal not audited:\n%s", log)
	}
	if !strings.Contains(log, `msg="strongroom: secret read" secret=payments/db consumer=payments-api version=1`) {
		t.Errorf("read not audited with name, consumer and version:\n%s", log)
	}

	// A view's subscription sees only its secrets.
	ch := make(chan secrets.Event, 10)
	cancel, _ := pay.Subscribe("*", func(e secrets.Event) { ch <- e })
	defer cancel()
	f.mem.Set("search/key", []byte("new"), nil)
	f.mem.Set("payments/db", []byte("new"), nil)
	if e := next(t, ch, secrets.EventRotated); e.Secret != "payments/db" {
		t.Errorf("view subscriber saw %v", e)
	}
}

func TestScopeErrors(t *testing.T) {
	f := newFixture(t, nil)
	for _, args := range [][]string{{""}, {"c"}, {"c", "a b"}} {
		if _, err := f.store.Scope(args[0], args[1:]...); !errors.Is(err, secrets.ErrInvalid) {
			t.Errorf("Scope(%q) = %v, want ErrInvalid", args, err)
		}
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "api", Owner: "team-a"}, "v", nil)
	held, _ := f.store.Get(ctx(t), "api")
	if err := f.store.Revoke(ctx(t), "api"); err != nil {
		t.Fatal(err)
	}
	next(t, ev, secrets.EventRevoked)
	if got := f.mem.Revoked("api"); len(got) != 1 || got[0] != "1" {
		t.Errorf("backend revocations = %v, want [1]", got)
	}
	err := held.Use(func([]byte) error { t.Error("callback ran on a revoked version"); return nil })
	if !errors.Is(err, secrets.ErrDestroyed) || !errors.Is(err, secrets.ErrRevoked) {
		t.Errorf("Use after Revoke = %v, want ErrDestroyed and ErrRevoked", err)
	}
	if _, err := f.store.Get(ctx(t), "api"); !errors.Is(err, secrets.ErrRevoked) {
		t.Errorf("Get after Revoke = %v, want ErrRevoked", err)
	}
	md, _ := f.store.Metadata("api")
	if md.State != secrets.StateRevoked || md.Owner != "team-a" || md.Version != "" || md.EndedAt.IsZero() {
		t.Errorf("metadata after revoke = %+v", md)
	}
	// The name can be declared again.
	f.mem.Set("api", []byte("w"), nil)
	if err := f.store.Add(secrets.Spec{Name: "api", Ref: "memory://api"}); err != nil {
		t.Fatalf("Add after revoke: %v", err)
	}
	if got := f.mustValue("api"); got != "w" {
		t.Errorf("after re-declaring = %q", got)
	}
}

func TestDestroyAndDelete(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "a"}, "1", nil)
	f.add(secrets.Spec{Name: "b"}, "2", nil)
	ha, _ := f.store.Get(ctx(t), "a")
	if err := f.store.Forget("a"); err != nil {
		t.Fatal(err)
	}
	next(t, ev, secrets.EventDeleted)
	if err := ha.Use(func([]byte) error { return nil }); !errors.Is(err, secrets.ErrDestroyed) {
		t.Errorf("Use after Forget = %v", err)
	}
	if _, err := f.store.Get(ctx(t), "a"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("Get after Forget = %v, want ErrNotFound", err)
	}
	if got := f.mem.Fetches("a"); got != 1 {
		t.Errorf("fetches = %d", got)
	}
	if _, err := f.mem.Fetch(ctx(t), "memory://a"); err != nil {
		t.Errorf("Forget touched the backend: %v", err)
	}
	if err := f.store.Delete(ctx(t), "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.mem.Fetch(ctx(t), "memory://b"); !errors.Is(err, secrets.ErrNotFound) && err == nil {
		t.Errorf("Delete left the backend value")
	}
	for _, name := range []string{"a", "b"} {
		if md, _ := f.store.Metadata(name); md.State != secrets.StateDeleted {
			t.Errorf("%s: State = %v, want deleted", name, md.State)
		}
	}
}

func TestCreate(t *testing.T) {
	f := newFixture(t, nil)
	pw, err := f.store.Create(ctx(t), secrets.Spec{Name: "gen/pw", Kind: secrets.KindPassword},
		&secrets.RandomPassword{Length: 40, Alphabet: secrets.AlphabetAlphanumeric})
	if err != nil {
		t.Fatal(err)
	}
	pw.Use(func(b []byte) error {
		if len(b) != 40 || strings.Trim(string(b), secrets.AlphabetAlphanumeric) != "" {
			t.Errorf("password of %d bytes outside the alphabet", len(b))
		}
		return nil
	})
	// Written through to a provider that can write.
	key, err := f.store.Create(ctx(t), secrets.Spec{Name: "gen/key", Ref: "memory://gen-key"}, &secrets.RandomKey{Bytes: 32})
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.mem.Fetch(ctx(t), "memory://gen-key")
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(v.Data) || len(v.Data) != 32 || key.Version() != v.Version {
		t.Error("created key differs from what the backend stored")
	}
	md, _ := f.store.Metadata("gen/pw")
	if md.Source != "generated" || md.State != secrets.StateActive {
		t.Errorf("generated metadata = %+v", md)
	}
	if _, err := f.store.Create(ctx(t), secrets.Spec{Name: "gen/pw"}, &secrets.RandomKey{}); !errors.Is(err, secrets.ErrExists) {
		t.Errorf("Create of a taken name = %v, want ErrExists", err)
	}
	bad := []secrets.Generator{
		&secrets.RandomPassword{Length: 8, Alphabet: "ab"},  // 8 bits
		&secrets.RandomPassword{Length: 32, Alphabet: "aa"}, // repeated
		&secrets.RandomPassword{Length: 32, Alphabet: "a b"},
		&secrets.RandomKey{Bytes: -1},
	}
	for i, g := range bad {
		if _, err := f.store.Create(ctx(t), secrets.Spec{Name: "bad" + string(rune('a'+i))}, g); !errors.Is(err, secrets.ErrInvalid) {
			t.Errorf("generator %d: %v, want ErrInvalid", i, err)
		}
	}
}

// Passwords are uniform over the alphabet: with 66 symbols and 660,000
// draws each symbol is expected 10,000 times; a chi-squared statistic
// above 120 (65 degrees of freedom, p < 0.0001) would mean bias.
func TestPasswordUniform(t *testing.T) {
	f := newFixture(t, nil)
	counts := map[byte]int{}
	p := &secrets.RandomPassword{Length: 66000}
	for i := range 10 {
		s, err := f.store.Create(ctx(t), secrets.Spec{Name: "u" + string(rune('a'+i))}, p)
		if err != nil {
			t.Fatal(err)
		}
		s.Use(func(b []byte) error {
			for _, c := range b {
				counts[c]++
			}
			return nil
		})
	}
	if len(counts) != len(secrets.AlphabetURLSafe) {
		t.Fatalf("%d distinct symbols, want %d", len(counts), len(secrets.AlphabetURLSafe))
	}
	chi := 0.0
	for _, n := range counts {
		d := float64(n) - 10000
		chi += d * d / 10000
	}
	if chi > 120 {
		t.Errorf("chi-squared = %.1f over 65 degrees of freedom: biased", chi)
	}
}
