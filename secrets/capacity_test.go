package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/strongroom/strongroom/internal/unpriv"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// A million 32-byte secrets held at once by an unprivileged process under
// the default 8 MiB RLIMIT_MEMLOCK: memguard alone (a LockedBuffer each)
// would panic after about 2,000.
func TestCapacityMillion(t *testing.T) {
	if unpriv.Child() {
		t.Skip("parent only")
	}
	if testing.Short() || raceEnabled {
		t.Skip("a million secrets take too long under -race or -short; .ci/run runs this without")
	}
	out := unpriv.Run(t, 8<<20, "TestChildCapacity")
	if !strings.Contains(out, "--- PASS: TestChildCapacity") {
		t.Fatalf("child failed:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "capacity:") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

func TestChildCapacity(t *testing.T) {
	if !unpriv.Child() {
		t.Skip("runs under TestCapacityMillion")
	}
	const n = 1_000_000
	reader := sdkmetric.NewManualReader()
	s, err := secrets.Open(context.Background(), &secrets.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatalf("Open as an unprivileged user: %v", err)
	}
	defer s.Close()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ctx := context.Background()
	for i := range n {
		if _, err := s.Create(ctx, secrets.Spec{Name: fmt.Sprintf("s%07d", i)}, &secrets.RandomKey{Bytes: 32}); err != nil {
			t.Fatalf("secret %d: %v", i, err)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// Every secret is readable, all at once held.
	for _, i := range []int{0, n / 2, n - 1} {
		sec, err := s.Get(ctx, fmt.Sprintf("s%07d", i))
		if err != nil || sec.Len() != 32 {
			t.Fatalf("secret %d: %v", i, err)
		}
		if err := sec.Use(func(b []byte) error { return nil }); err != nil {
			t.Fatalf("Use of secret %d: %v", i, err)
		}
	}
	md, _ := s.Metadata("s0000000")
	metrics := collect(t, reader)
	locked := int64(metrics[secrets.MetricLockedMemBytes])
	t.Logf("capacity: %d secrets of 32 bytes; locked memory %d bytes in all (%.3f bytes per secret); heap %.0f bytes per secret; memory locked: %v",
		n, locked, float64(locked)/n, float64(after.HeapAlloc-before.HeapAlloc)/n, md.LockedMemory)
	if !md.LockedMemory || locked <= 0 || locked > 8<<20 {
		t.Errorf("locked memory %d bytes, locked %v", locked, md.LockedMemory)
	}
}

func TestUnprivilegedLockedMemory(t *testing.T) {
	if unpriv.Child() {
		t.Skip("parent only")
	}
	out := unpriv.Run(t, 0, "TestChildNoLockedMemory")
	if !strings.Contains(out, "--- PASS: TestChildNoLockedMemory") {
		t.Fatalf("child failed:\n%s", out)
	}
}

// Where nothing can be locked, Open fails cleanly, or with
// AllowUnlockedMemory runs and says so in the log, a metric and the
// inventory.
func TestChildNoLockedMemory(t *testing.T) {
	if !unpriv.Child() {
		t.Skip("runs under TestUnprivilegedLockedMemory")
	}
	mem := memory.New(nil)
	_, err := secrets.Open(context.Background(), &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if !errors.Is(err, secrets.ErrLockedMemory) {
		t.Fatalf("Open without lockable memory = %v, want ErrLockedMemory", err)
	}
	if _, err := mem.Fetch(context.Background(), "memory://x"); !errors.Is(err, providers.ErrClosed) {
		t.Errorf("a failed Open left its provider open: %v", err)
	}
	var logs syncBuffer
	reader := sdkmetric.NewManualReader()
	mem = memory.New(nil)
	mem.Set("k", []byte("value"), nil)
	s, err := secrets.Open(context.Background(), &secrets.Options{
		Providers:           map[string]providers.Provider{"memory": mem},
		AllowUnlockedMemory: true,
		Logger:              slog.New(slog.NewTextHandler(&logs, nil)),
		MeterProvider:       sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		t.Fatalf("Open with AllowUnlockedMemory: %v", err)
	}
	defer s.Close()
	s.Add(secrets.Spec{Name: "k", Ref: "memory://k"})
	var got string
	if err := s.Use(context.Background(), "k", func(b []byte) error { got = string(b); return nil }); err != nil || got != "value" {
		t.Fatalf("Use unlocked = %q, %v", got, err)
	}
	if !strings.Contains(logs.String(), "memory cannot be locked") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}
	if md, _ := s.Metadata("k"); md.LockedMemory {
		t.Error("inventory says LockedMemory = true")
	}
	found := collect(t, reader)[secrets.MetricMemoryLocked] == 0
	if !found {
		t.Errorf("%s is not 0", secrets.MetricMemoryLocked)
	}
}
