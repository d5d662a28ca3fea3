package secrets_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is a Store over the memory fake, on a virtual clock.
type fixture struct {
	t     *testing.T
	clock *memory.Clock
	mem   *memory.Provider
	store *secrets.Store
}

// newFixture opens a store; opts may be nil. It checks for leaked
// goroutines once the store is closed.
func newFixture(t *testing.T, opts *secrets.Options) *fixture {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	f := &fixture{t: t, clock: memory.NewClock(epoch)}
	f.mem = memory.New(&memory.Options{Clock: f.clock})
	var o secrets.Options
	if opts != nil {
		o = *opts
	}
	o.Clock = f.clock
	if o.Random == nil {
		o.Random = rand.NewChaCha8([32]byte{1})
	}
	if o.Providers == nil {
		o.Providers = map[string]providers.Provider{}
	}
	o.Providers["memory"] = f.mem
	s, err := secrets.Open(context.Background(), &o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	f.store = s
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		goleak.VerifyNone(t, ignore)
	})
	return f
}

// add declares a memory secret holding value and waits for it to load.
func (f *fixture) add(spec secrets.Spec, value string, set *memory.SetOptions) {
	f.t.Helper()
	f.mem.Set(spec.Name, []byte(value), set)
	if spec.Ref == "" {
		spec.Ref = memory.Ref(spec.Name)
	}
	if err := f.store.Add(spec); err != nil {
		f.t.Fatalf("Add(%s): %v", spec.Name, err)
	}
	if err := f.store.Ready(ctx(f.t)); err != nil {
		f.t.Fatalf("Ready: %v", err)
	}
}

// value reads name's current value through Get and Use.
func (f *fixture) value(name string) (string, error) {
	f.t.Helper()
	s, err := f.store.Get(ctx(f.t), name)
	if err != nil {
		return "", err
	}
	var v string
	err = s.Use(func(b []byte) error { v = string(b); return nil })
	return v, err
}

// mustValue is value that fails the test on error.
func (f *fixture) mustValue(name string) string {
	f.t.Helper()
	v, err := f.value(name)
	if err != nil {
		f.t.Fatalf("reading %s: %v", name, err)
	}
	return v
}

// events subscribes to pattern and returns the channel the events arrive on.
func (f *fixture) events(pattern string) <-chan secrets.Event {
	f.t.Helper()
	ch := make(chan secrets.Event, 10000)
	cancel, err := f.store.Subscribe(pattern, func(e secrets.Event) { ch <- e })
	if err != nil {
		f.t.Fatalf("Subscribe: %v", err)
	}
	f.t.Cleanup(cancel)
	return ch
}

// next waits for the next event of kind on ch, skipping others.
func next(t *testing.T, ch <-chan secrets.Event, kind secrets.EventKind) secrets.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-ch:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %v event within 10s", kind)
		}
	}
}

// eventually polls cond until it holds, failing after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// settle advances the virtual clock by d in steps of step, letting the
// store's scheduler catch up after each (it is idle when the clock has
// exactly the timers of the store's scheduler and no fetch is under way).
func (f *fixture) advance(d time.Duration) {
	f.clock.Advance(d)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// collect reads every metric from reader into name -> value: sums add
// up over attribute sets (keyed name/outcome when there is an outcome),
// gauges keep the last point.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					key := m.Name
					if o, ok := p.Attributes.Value("strongroom.outcome"); ok {
						key += "/" + o.AsString()
					}
					got[key] += float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					got[m.Name] = p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					got[m.Name] = float64(p.Value)
				}
			}
		}
	}
	return got
}
