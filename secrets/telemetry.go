package secrets

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

const instrumentation = "github.com/strongroom/strongroom/secrets"

// Metric names. Attributes: strongroom.secret (the name) and
// strongroom.source (the provider's scheme); refresh counters add
// strongroom.outcome. No attribute ever carries a value.
const (
	MetricReads          = "strongroom.secret.reads"
	MetricRefreshes      = "strongroom.secret.refreshes"
	MetricFailures       = "strongroom.secret.refresh_failures"
	MetricRotations      = "strongroom.secret.rotations"
	MetricExpiry         = "strongroom.secret.expiry"
	MetricStaleness      = "strongroom.secret.staleness"
	MetricMemoryLocked   = "strongroom.memory.locked"
	MetricLockedMemBytes = "strongroom.memory.locked_bytes"
	SpanFetch            = "strongroom.fetch"
)

// Refresh outcomes, the strongroom.outcome attribute.
const (
	outcomeLoaded    = "loaded"
	outcomeRotated   = "rotated"
	outcomeUnchanged = "unchanged"
	outcomeFailed    = "failed"
	outcomeRejected  = "rejected"
)

type telemetry struct {
	on        bool // a MeterProvider or TracerProvider was given
	tracer    trace.Tracer
	refreshes metric.Int64Counter
	failures  metric.Int64Counter
	rotations metric.Int64Counter
	reg       metric.Registration
}

// noSpan is a span that records nothing: the one of a context without any.
var noSpan = trace.SpanFromContext(context.Background())

func newTelemetry(s *Store) (*telemetry, error) {
	mp := s.opts.MeterProvider
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	tp := s.opts.TracerProvider
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	m := mp.Meter(instrumentation)
	t := &telemetry{tracer: tp.Tracer(instrumentation),
		on: s.opts.MeterProvider != nil || s.opts.TracerProvider != nil}
	var errs [9]error
	var (
		reads, locked, lockedBytes metric.Int64Observable
		expiry, stale              metric.Float64Observable
	)
	t.refreshes, errs[0] = m.Int64Counter(MetricRefreshes, metric.WithUnit("{fetch}"),
		metric.WithDescription("Fetches of a secret, by outcome (loaded, rotated, unchanged, failed, rejected)."))
	t.failures, errs[1] = m.Int64Counter(MetricFailures, metric.WithUnit("{fetch}"),
		metric.WithDescription("Fetches that failed or whose value was rejected."))
	t.rotations, errs[2] = m.Int64Counter(MetricRotations, metric.WithUnit("{rotation}"),
		metric.WithDescription("Times a new version replaced the current one."))
	reads, errs[3] = m.Int64ObservableCounter(MetricReads, metric.WithUnit("{read}"),
		metric.WithDescription("Reads (Get) of a secret."))
	expiry, errs[4] = m.Float64ObservableGauge(MetricExpiry, metric.WithUnit("s"),
		metric.WithDescription("Seconds until the current version expires (negative once expired); absent without an expiry."))
	stale, errs[5] = m.Float64ObservableGauge(MetricStaleness, metric.WithUnit("s"),
		metric.WithDescription("Seconds since refreshes of a secret started failing; 0 when healthy."))
	locked, errs[6] = m.Int64ObservableGauge(MetricMemoryLocked,
		metric.WithDescription("1 when scratch memory and the sealing key are locked, 0 when running unlocked."))
	lockedBytes, errs[7] = m.Int64ObservableGauge(MetricLockedMemBytes, metric.WithUnit("By"),
		metric.WithDescription("Bytes of memory the store holds locked."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	t.reg, errs[8] = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if s.closed.Load() {
			return nil
		}
		lockedVal := int64(0)
		if s.guard.Locked() {
			lockedVal = 1
		}
		o.ObserveInt64(locked, lockedVal)
		o.ObserveInt64(lockedBytes, s.guard.LockedBytes())
		now := s.clock.Now()
		s.tally.Flush()
		for _, e := range s.unsorted() {
			set := metric.WithAttributes(e.entryKV()...)
			o.ObserveInt64(reads, int64(e.reads.Load()), set)
			if cur := e.cur.Load(); cur != nil && !cur.expiresAt.IsZero() {
				o.ObserveFloat64(expiry, cur.expiresAt.Sub(now).Seconds(), set)
			}
			e.mu.Lock()
			since := e.failingSince
			e.mu.Unlock()
			staleFor := 0.0
			if !since.IsZero() {
				staleFor = now.Sub(since).Seconds()
			}
			o.ObserveFloat64(stale, staleFor, set)
		}
		return nil
	}, reads, expiry, stale, locked, lockedBytes)
	return t, errs[8]
}

func (t *telemetry) close() {
	if t.reg != nil {
		t.reg.Unregister()
	}
}

// entryKV returns the attributes that name e in metrics and spans. They
// are built when used, not kept: a million entries would each hold them.
func (e *entry) entryKV(extra ...attribute.KeyValue) []attribute.KeyValue {
	return append([]attribute.KeyValue{
		attribute.String("strongroom.secret", e.name),
		attribute.String("strongroom.source", e.source()),
	}, extra...)
}

// refreshed counts a fetch of e by outcome.
func (e *entry) refreshed(outcome string) {
	t := e.s.tel
	if !t.on {
		return // no-op instruments: no attributes to build
	}
	ctx := context.Background()
	t.refreshes.Add(ctx, 1, metric.WithAttributes(e.entryKV(attribute.String("strongroom.outcome", outcome))...))
	switch outcome {
	case outcomeFailed, outcomeRejected:
		t.failures.Add(ctx, 1, metric.WithAttributes(e.entryKV()...))
	case outcomeRotated:
		t.rotations.Add(ctx, 1, metric.WithAttributes(e.entryKV()...))
	}
}

// fetchSpan ends a fetch span.
type fetchSpan struct{ span trace.Span }

func (t *telemetry) startFetch(ctx context.Context, e *entry) (context.Context, fetchSpan) {
	if !t.on {
		return ctx, fetchSpan{noSpan} // nothing to build, nothing to end
	}
	ctx, span := t.tracer.Start(ctx, SpanFetch, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(e.entryKV()...))
	return ctx, fetchSpan{span}
}

func (f fetchSpan) end(err error) {
	if err != nil {
		f.span.RecordError(err)
		f.span.SetStatus(codes.Error, "fetch failed")
	}
	f.span.End()
}
