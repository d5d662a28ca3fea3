package certs

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const instrumentation = "github.com/strongroom/strongroom/certs"

// Metric names. Their one attribute, strongroom.certificate, is the Pair's
// name; no attribute carries key material.
const (
	// MetricExpiry is a gauge of the seconds until the certificate in
	// service expires (absent while none is in service).
	MetricExpiry = "strongroom.certificate.expiry"
	// MetricRotations counts certificates put in service.
	MetricRotations = "strongroom.certificate.rotations"
	// MetricRejections counts new values refused.
	MetricRejections = "strongroom.certificate.rejections"
)

type telemetry struct {
	rotations  metric.Int64Counter
	rejections metric.Int64Counter
	reg        metric.Registration
	attrs      map[*pairState]metric.MeasurementOption
}

func newTelemetry(s *Source, mp metric.MeterProvider) (*telemetry, error) {
	t := &telemetry{attrs: map[*pairState]metric.MeasurementOption{}}
	if mp == nil {
		return t, nil
	}
	for _, ps := range s.pairs {
		t.attrs[ps] = metric.WithAttributeSet(attribute.NewSet(attribute.String("strongroom.certificate", ps.p.Name)))
	}
	m := mp.Meter(instrumentation)
	var errs [4]error
	var expiry metric.Float64ObservableGauge
	expiry, errs[0] = m.Float64ObservableGauge(MetricExpiry, metric.WithUnit("s"),
		metric.WithDescription("Seconds until the certificate in service expires."))
	t.rotations, errs[1] = m.Int64Counter(MetricRotations, metric.WithUnit("{certificate}"),
		metric.WithDescription("Certificates put in service (first load, rotation, renewal)."))
	t.rejections, errs[2] = m.Int64Counter(MetricRejections, metric.WithUnit("{value}"),
		metric.WithDescription("New certificates or keys refused; the one in service stayed."))
	if err := errors.Join(errs[:3]...); err != nil {
		return nil, err
	}
	t.reg, errs[3] = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		now := s.clock.Now()
		for _, ps := range s.pairs {
			if sv := ps.cur.Load(); sv != nil {
				o.ObserveFloat64(expiry, sv.chain[0].NotAfter.Sub(now).Seconds(), t.attrs[ps])
			}
		}
		return nil
	}, expiry)
	return t, errs[3]
}

func (t *telemetry) rotated(ps *pairState) {
	if t.rotations != nil {
		t.rotations.Add(context.Background(), 1, t.attrs[ps])
	}
}

func (t *telemetry) refused(ps *pairState) {
	if t.rejections != nil {
		t.rejections.Add(context.Background(), 1, t.attrs[ps])
	}
}

func (t *telemetry) close() {
	if t != nil && t.reg != nil {
		t.reg.Unregister()
	}
}
