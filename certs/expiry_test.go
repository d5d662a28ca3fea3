package certs_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/strongroom/strongroom/certs"
)

// Expiry thresholds on a virtual clock: a 30-day certificate warns at a
// third of its life left (day 20), at 7 days (day 23) and at 1 day (day
// 29), then expires and is withdrawn; the gauge follows.
func TestExpiryThresholdsAndGauge(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	clock := newClock(start)
	f := newFixture(t, clock)
	ca := newCA(t, "ca")
	l := ca.issue(t, &leafOpts{notBefore: start, notAfter: start.Add(30 * 24 * time.Hour)}, "localhost")
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("web", l)}, MeterProvider: mp})
	f.next(certs.EventLoaded, "web")

	day := 24 * time.Hour
	if got := gauge(t, reader, "web"); got != (30 * day).Seconds() {
		t.Errorf("gauge at the start = %v s, want %v", got, (30 * day).Seconds())
	}
	for _, step := range []struct {
		at   time.Duration
		kind certs.EventKind
		want certs.Threshold
	}{
		{20 * day, certs.EventExpiring, certs.Threshold{Fraction: 1.0 / 3}},
		{23 * day, certs.EventExpiring, certs.Threshold{Left: 7 * day}},
		{29 * day, certs.EventExpiring, certs.Threshold{Left: day}},
		{30 * day, certs.EventExpired, certs.Threshold{}},
	} {
		clock.Set(start.Add(step.at - time.Minute))
		clock.Set(start.Add(step.at))
		e := f.next(step.kind, "web")
		if e.Threshold != step.want || e.Serial != l.serial {
			t.Errorf("day %v: %v threshold %v serial %s, want %v serial %s", step.at/day, e.Kind, e.Threshold, e.Serial, step.want, l.serial)
		}
		if step.kind == certs.EventExpiring {
			if got, want := gauge(t, reader, "web"), (30*day - step.at).Seconds(); got != want {
				t.Errorf("gauge at day %v = %v, want %v", step.at/day, got, want)
			}
		}
	}
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); !errors.Is(err, certs.ErrExpired) {
		t.Errorf("GetCertificate after expiry = %v, want ErrExpired", err)
	}
	if err := src.Health(); !errors.Is(err, certs.ErrExpired) {
		t.Errorf("Health after expiry = %v, want ErrExpired", err)
	}
	if _, ok := gaugeOK(t, reader, "web"); ok {
		t.Error("gauge still reported for a withdrawn certificate")
	}
}

// A certificate loaded late in its life warns once, for the last threshold
// it has crossed, not once per threshold.
func TestLateLoadWarnsOnce(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	clock := newClock(start)
	f := newFixture(t, clock)
	ca := newCA(t, "ca")
	l := ca.issue(t, &leafOpts{notBefore: start.Add(-25 * 24 * time.Hour), notAfter: start.Add(5 * 24 * time.Hour)}, "localhost")
	f.source(&certs.Options{Certificates: []certs.Pair{f.pair("web", l)}})
	f.next(certs.EventLoaded, "web")
	if e := f.next(certs.EventExpiring, "web"); e.Threshold != (certs.Threshold{Left: 7 * 24 * time.Hour}) {
		t.Errorf("late load warned for %v, want the 7-day threshold", e.Threshold)
	}
	select {
	case e := <-f.events:
		t.Errorf("unexpected second event %v", e)
	default:
	}
}

func gauge(t *testing.T, r *sdkmetric.ManualReader, name string) float64 {
	t.Helper()
	v, ok := gaugeOK(t, r, name)
	if !ok {
		t.Fatalf("no %s gauge for %s", certs.MetricExpiry, name)
	}
	return v
}

func gaugeOK(t *testing.T, r *sdkmetric.ManualReader, name string) (float64, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != certs.MetricExpiry {
				continue
			}
			for _, p := range m.Data.(metricdata.Gauge[float64]).DataPoints {
				if v, _ := p.Attributes.Value("strongroom.certificate"); v.AsString() == name {
					return p.Value, true
				}
			}
		}
	}
	return 0, false
}
