package secrets_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

func TestCloseStopsEverything(t *testing.T) {
	f := newFixture(t, nil)
	f.add(secrets.Spec{Name: "a", Refresh: secrets.RefreshPolicy{Interval: time.Minute}}, "v", &memory.SetOptions{TTL: time.Hour})
	held, _ := f.store.Get(ctx(t), "a")
	f.events("*")
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := held.Use(func([]byte) error { return nil }); !errors.Is(err, secrets.ErrDestroyed) {
		t.Errorf("Use after Close = %v, want ErrDestroyed", err)
	}
	calls := map[string]error{}
	_, calls["Get"] = f.store.Get(ctx(t), "a")
	calls["Add"] = f.store.Add(secrets.Spec{Name: "b", Ref: "memory://b"})
	calls["Refresh"] = f.store.Refresh(ctx(t), "a")
	calls["Health"] = f.store.Health()
	_, calls["Subscribe"] = f.store.Subscribe("*", func(secrets.Event) {})
	_, calls["Create"] = f.store.Create(ctx(t), secrets.Spec{Name: "c"}, &secrets.RandomKey{})
	for name, err := range calls {
		if !errors.Is(err, secrets.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if _, err := f.mem.Fetch(ctx(t), "memory://a"); !errors.Is(err, providers.ErrClosed) {
		t.Errorf("provider not closed with the store: %v", err)
	}
	// newFixture's cleanup checks that no goroutine is left.
}

func TestAddErrors(t *testing.T) {
	f := newFixture(t, nil)
	f.add(secrets.Spec{Name: "dup"}, "v", nil)
	tests := []struct {
		name string
		spec secrets.Spec
		want error
	}{
		{"empty name", secrets.Spec{Ref: "memory://x"}, secrets.ErrInvalid},
		{"bad character", secrets.Spec{Name: "a b", Ref: "memory://x"}, secrets.ErrInvalid},
		{"no ref", secrets.Spec{Name: "x"}, secrets.ErrInvalid},
		{"no scheme", secrets.Spec{Name: "x", Ref: "/etc/passwd"}, secrets.ErrInvalid},
		{"unknown scheme", secrets.Spec{Name: "x", Ref: "vault://x"}, secrets.ErrInvalid},
		{"negative stale", secrets.Spec{Name: "x", Ref: "memory://x", MaxStale: -1}, secrets.ErrInvalid},
		{"ahead > 1", secrets.Spec{Name: "x", Ref: "memory://x", Refresh: secrets.RefreshPolicy{Ahead: 1.5}}, secrets.ErrInvalid},
		{"backoff bounds", secrets.Spec{Name: "x", Ref: "memory://x", Refresh: secrets.RefreshPolicy{MinBackoff: time.Hour, MaxBackoff: time.Second}}, secrets.ErrInvalid},
		{"taken", secrets.Spec{Name: "dup", Ref: "memory://dup"}, secrets.ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.store.Add(tt.spec); !errors.Is(err, tt.want) {
				t.Errorf("Add = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := f.store.Get(ctx(t), "never-declared"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("Get of an undeclared name = %v", err)
	}
}

func TestGetHonoursContext(t *testing.T) {
	f := newFixture(t, nil)
	f.mem.Set("slow", []byte("v"), nil)
	f.mem.SetLatency("slow", time.Hour) // never advanced
	f.store.Add(secrets.Spec{Name: "slow", Ref: "memory://slow"})
	c, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.store.Get(c, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get with an ending context = %v, want DeadlineExceeded", err)
	}
}

func TestInventory(t *testing.T) {
	f := newFixture(t, &secrets.Options{UnusedAfter: 24 * time.Hour, ExpiryWarning: 48 * time.Hour})
	f.add(secrets.Spec{Name: "cert", Kind: secrets.KindCertificate, Owner: "edge", Classification: secrets.Confidential,
		Labels: map[string]string{"env": "prod"}}, "pem", &memory.SetOptions{TTL: 30 * 24 * time.Hour})
	f.add(secrets.Spec{Name: "idle"}, "x", nil)
	f.store.Get(ctx(t), "cert")
	f.advance(25 * time.Hour)
	// The first read after the scheduler's sweep records the time.
	eventually(t, "a read to be recorded", func() bool {
		f.store.Get(ctx(t), "cert")
		md, _ := f.store.Metadata("cert")
		return md.LastRead.After(epoch.Add(24 * time.Hour))
	})
	inv := f.store.Inventory()
	if len(inv) != 2 || inv[0].Name != "cert" || inv[1].Name != "idle" {
		t.Fatalf("inventory = %+v", inv)
	}
	cert, idle := inv[0], inv[1]
	if cert.Owner != "edge" || cert.Kind != secrets.KindCertificate || cert.Classification != secrets.Confidential ||
		cert.Labels["env"] != "prod" || cert.Source != "memory" || cert.Version != "1" || cert.Reads < 2 {
		t.Errorf("cert metadata = %+v", cert)
	}
	if !cert.ExpiresAt.Equal(epoch.Add(30 * 24 * time.Hour)) {
		t.Errorf("ExpiresAt = %v", cert.ExpiresAt)
	}
	if cert.LastRead.Before(epoch.Add(24*time.Hour)) || cert.Unused {
		t.Errorf("cert read a minute ago: LastRead %v, Unused %v", cert.LastRead, cert.Unused)
	}
	if !idle.Unused || cert.Expiring {
		t.Errorf("idle.Unused = %v (want true), cert.Expiring = %v (want false)", idle.Unused, cert.Expiring)
	}
	// 29 days in, less than a third of the lifetime and under 48 hours are left.
	f.mem.Fail("cert", nil, -1)
	f.advance(28 * 24 * time.Hour)
	eventually(t, "the refresh to fail", func() bool {
		md, _ := f.store.Metadata("cert")
		return md.State == secrets.StateFailing
	})
	md, _ := f.store.Metadata("cert")
	if !md.Expiring {
		t.Errorf("Expiring = false with %v left", md.ExpiresAt.Sub(f.clock.Now()))
	}
	if md.LastError == "" || md.LastErrorAt.IsZero() || md.State != secrets.StateFailing {
		t.Errorf("failing cert metadata = %+v", md)
	}
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	f := newFixture(t, &secrets.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	ev := f.events("*")
	f.add(secrets.Spec{Name: "m"}, "v", &memory.SetOptions{TTL: time.Hour})
	for range 3 {
		f.store.Get(ctx(t), "m")
	}
	f.mem.Set("m", []byte("w"), &memory.SetOptions{TTL: time.Hour})
	next(t, ev, secrets.EventRotated)
	f.mem.Fail("m", nil, -1)
	if err := f.store.Refresh(ctx(t), "m"); err == nil {
		t.Fatal("Refresh succeeded during a scripted failure")
	}
	failedAt := f.clock.Now()
	f.advance(10 * time.Minute)
	if md, _ := f.store.Metadata("m"); !md.LastErrorAt.After(failedAt) {
		t.Fatalf("no retry failed during the advance: last error at %v, first at %v", md.LastErrorAt, failedAt)
	}

	got := collect(t, reader)
	want := map[string]float64{
		secrets.MetricReads:                  3,
		secrets.MetricRefreshes + "/loaded":  1,
		secrets.MetricRefreshes + "/rotated": 1,
		secrets.MetricRotations:              1,
		secrets.MetricExpiry:                 50 * 60, // an hour from the rotation, 10 minutes ago
		secrets.MetricStaleness:              10 * 60,
		secrets.MetricMemoryLocked:           1,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], w, got)
		}
	}
	if f := got[secrets.MetricRefreshes+"/failed"]; f < 1 || got[secrets.MetricFailures] != f {
		t.Errorf("failed refreshes = %v, failures = %v; want equal and at least 1", f, got[secrets.MetricFailures])
	}
	if got[secrets.MetricLockedMemBytes] <= 0 {
		t.Errorf("%s = %v, want > 0", secrets.MetricLockedMemBytes, got[secrets.MetricLockedMemBytes])
	}
}

// TestBackendLabelsInInventory: a backend's labels (AWS tags, say) reach
// the inventory, under the Spec's own labels, and give the owner and
// classification when the Spec names none; they follow the version.
func TestBackendLabelsInInventory(t *testing.T) {
	store, mem := openMemory(t, nil)
	tags := map[string]string{"owner": "payments", "classification": "restricted", "env": "prod"}
	mem.Set("tagged", []byte("v1"), &memory.SetOptions{Labels: tags})
	mem.Set("declared", []byte("v1"), &memory.SetOptions{Labels: tags})
	store.Add(secrets.Spec{Name: "tagged", Ref: "memory://tagged"})
	store.Add(secrets.Spec{Name: "declared", Ref: "memory://declared", Owner: "edge", Classification: secrets.Internal,
		Labels: map[string]string{"env": "staging"}})
	if err := store.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	md, _ := store.Metadata("tagged")
	if md.Owner != "payments" || md.Classification != secrets.Restricted || md.Labels["env"] != "prod" {
		t.Errorf("from the backend's labels: owner %q, classification %q, labels %v", md.Owner, md.Classification, md.Labels)
	}
	md, _ = store.Metadata("declared")
	if md.Owner != "edge" || md.Classification != secrets.Internal || md.Labels["env"] != "staging" || md.Labels["owner"] != "payments" {
		t.Errorf("the Spec's win: owner %q, classification %q, labels %v", md.Owner, md.Classification, md.Labels)
	}
	tags["owner"] = "changed after Set"
	mem.Set("tagged", []byte("v2"), &memory.SetOptions{Labels: map[string]string{"owner": "billing"}})
	if err := store.Refresh(context.Background(), "tagged"); err != nil {
		t.Fatal(err)
	}
	md, _ = store.Metadata("tagged")
	if md.Owner != "billing" || md.Classification != "" || md.Labels["env"] != "" {
		t.Errorf("after a new version: owner %q, classification %q, labels %v", md.Owner, md.Classification, md.Labels)
	}
}
