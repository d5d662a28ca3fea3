package rotate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
)

// TestTelemetry: a rotated and a rolled-back rotation move the counters
// and the duration histogram, with bounded attributes that hold no
// credential.
func TestTelemetry(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewClock(epoch)
	mem := memory.New(&memory.Options{Clock: clock})
	mem.Set("db", []byte("initial-password"), nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	store.Add(secrets.Spec{Name: "db", Ref: "memory://db"})
	store.Ready(ctx)
	reader := sdkmetric.NewManualReader()
	rot, err := rotate.New(store, &rotate.Options{Clock: clock, MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	defer rot.Close()
	server := newKeyServer(true)
	server.valid["app"] = [][]byte{[]byte("initial-password")}
	err = rot.Add(ctx, rotate.Rotation{Secret: "db", PendingRef: "memory://db.pending", StateRef: "memory://db.rotation",
		Target: server.target(), Strategy: rotate.InPlace("app"), Policy: rotate.Policy{Overlap: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, clock: clock}
	if err := f.run(func(ctx context.Context) error { return rot.RotateNow(ctx, "db") }); err != nil {
		t.Fatal(err)
	}
	server.mu.Lock()
	server.failTest = true
	server.mu.Unlock()
	if err := f.run(func(ctx context.Context) error { return rot.RotateNow(ctx, "db") }); err == nil {
		t.Fatal("a failing test did not fail the rotation")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	var durations uint64
	var values []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					counts[m.Name+"{"+attrs(p.Attributes)+"}"] += p.Value
					values = append(values, attrs(p.Attributes))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					durations += p.Count
					values = append(values, attrs(p.Attributes))
				}
			}
		}
	}
	for k, want := range map[string]int64{
		rotate.MetricStarted + "{strongroom.reason=demand,strongroom.secret=db}":                     2,
		rotate.MetricEnded + "{strongroom.outcome=rotated,strongroom.secret=db}":                     1,
		rotate.MetricEnded + "{strongroom.outcome=rolled-back,strongroom.secret=db}":                 1,
		rotate.MetricSteps + "{strongroom.outcome=ok,strongroom.secret=db,strongroom.step=set}":      2,
		rotate.MetricSteps + "{strongroom.outcome=error,strongroom.secret=db,strongroom.step=test}":  1,
		rotate.MetricSteps + "{strongroom.outcome=ok,strongroom.secret=db,strongroom.step=retire}":   1,
		rotate.MetricSteps + "{strongroom.outcome=ok,strongroom.secret=db,strongroom.step=rollback}": 1,
	} {
		if counts[k] != want {
			t.Errorf("%s = %d, want %d (all: %v)", k, counts[k], want, counts)
		}
	}
	if durations != 2 {
		t.Errorf("the duration histogram has %d points, want 2", durations)
	}
	cur := valueOf(t, store, "db")
	for _, v := range values {
		if strings.Contains(v, cur) || strings.Contains(v, "initial-password") {
			t.Errorf("a metric attribute holds a credential: %s", v)
		}
	}
}

func attrs(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

func valueOf(t *testing.T, store *secrets.Store, name string) string {
	t.Helper()
	var v string
	if err := store.Use(context.Background(), name, func(b []byte) error { v = string(b); return nil }); err != nil {
		t.Fatal(err)
	}
	return v
}
