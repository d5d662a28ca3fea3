package rotate

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names, in the style of package secrets.
const (
	MetricStarted  = "strongroom.rotation.started"  // rotations started, by secret and reason
	MetricSteps    = "strongroom.rotation.steps"    // step side effects, by secret, step and outcome
	MetricEnded    = "strongroom.rotation.ended"    // rotations ended, by secret and outcome
	MetricDuration = "strongroom.rotation.duration" // seconds from start to end, by secret and outcome
)

type telemetry struct {
	started, steps, endings metric.Int64Counter
	duration                metric.Float64Histogram
}

func newTelemetry(mp metric.MeterProvider) (telemetry, error) {
	var t telemetry
	if mp == nil {
		return t, nil
	}
	m := mp.Meter("github.com/strongroom/strongroom/rotate")
	var errs [4]error
	t.started, errs[0] = m.Int64Counter(MetricStarted, metric.WithUnit("{rotation}"), metric.WithDescription("Rotations started, by secret and reason."))
	t.steps, errs[1] = m.Int64Counter(MetricSteps, metric.WithUnit("{step}"), metric.WithDescription("Rotation steps done, by secret, step and outcome."))
	t.endings, errs[2] = m.Int64Counter(MetricEnded, metric.WithUnit("{rotation}"), metric.WithDescription("Rotations ended, by secret and outcome."))
	t.duration, errs[3] = m.Float64Histogram(MetricDuration, metric.WithUnit("s"), metric.WithDescription("Time from a rotation's start to its end."))
	return t, errors.Join(errs[:]...)
}

func (t telemetry) start(secret, reason string) {
	if t.started != nil {
		t.started.Add(context.Background(), 1, metric.WithAttributes(attribute.String("strongroom.secret", secret), attribute.String("strongroom.reason", reason)))
	}
}

func (t telemetry) step(secret string, step Step, err error) {
	if t.steps == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	t.steps.Add(context.Background(), 1, metric.WithAttributes(attribute.String("strongroom.secret", secret),
		attribute.String("strongroom.step", string(step)), attribute.String("strongroom.outcome", outcome)))
}

func (t telemetry) ended(secret string, outcome Outcome, d time.Duration) {
	if t.endings == nil {
		return
	}
	attrs := metric.WithAttributes(attribute.String("strongroom.secret", secret), attribute.String("strongroom.outcome", string(outcome)))
	t.endings.Add(context.Background(), 1, attrs)
	t.duration.Record(context.Background(), d.Seconds(), attrs)
}
