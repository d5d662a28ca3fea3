package certs

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const instrumentation = "github.com/strongroom/strongroom/certs"

// Metric names. The one attribute of a Source's metrics,
// strongroom.certificate, is the Pair's name; no attribute carries key
// material.
const (
	// MetricExpiry is a gauge of the seconds until the certificate in
	// service expires. A certificate withdrawn (expired, revoked, stale)
	// has no certificate in service, so its series disappears: alert on
	// the series' absence as well as on its value, or on
	// strongroom.certificate.rejections and the Source's Health.
	MetricExpiry = "strongroom.certificate.expiry"
	// MetricCAExpiry is a gauge of the seconds until each CA a
	// [TrustBundle] trusts now expires (its current CAs and those in
	// their overlap; negative for an expired CA a bundle still holds),
	// with attributes strongroom.trust_bundle (the bundle's name),
	// strongroom.ca.subject and strongroom.ca.sha256 (the CA
	// certificate's fingerprint). It is a metric of its own, not
	// MetricExpiry's, so that an alert on leaf certificates does not fire
	// for an old CA a bundle keeps on purpose. A bundle withdrawn has no
	// series.
	MetricCAExpiry = "strongroom.trust.ca.expiry"
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

// telemetry registers the bundle's CA expiry gauge; nil without a
// MeterProvider.
func (b *TrustBundle) telemetry(mp metric.MeterProvider) (metric.Registration, error) {
	if mp == nil {
		return nil, nil
	}
	m := mp.Meter(instrumentation)
	expiry, err := m.Float64ObservableGauge(MetricCAExpiry, metric.WithUnit("s"),
		metric.WithDescription("Seconds until each CA a trust bundle trusts expires."))
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := b.state.Load()
		if st == nil {
			return nil
		}
		now := b.clock.Now()
		for _, c := range st.certs {
			o.ObserveFloat64(expiry, c.NotAfter.Sub(now).Seconds(), metric.WithAttributes(
				attribute.String("strongroom.trust_bundle", b.opts.Name),
				attribute.String("strongroom.ca.subject", c.Subject.String()),
				attribute.String("strongroom.ca.sha256", fingerprint(c.Raw))))
		}
		return nil
	}, expiry)
}
