package secrets

import (
	"io"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/strongroom/strongroom/providers"
)

// Options configure a Store. A nil *Options means the defaults, which give
// a store with no providers: useful only for Create.
type Options struct {
	// Providers maps a reference scheme ("file", "env", "memory", ...) to
	// the provider that serves it. The Store owns them from Open on and
	// closes them in Close. Nil: none.
	Providers map[string]providers.Provider

	// Logger receives lifecycle and audit records (names, versions,
	// reasons; never values). Nil: silent.
	Logger *slog.Logger

	// AuditReads logs every read (through the Store or a View) at
	// slog.LevelInfo with the secret's name, the consumer and the version.
	// False: only refused reads are logged (at slog.LevelWarn).
	AuditReads bool

	// MeterProvider and TracerProvider receive OpenTelemetry metrics and
	// fetch spans. Nil: no-op.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider

	// Clock is the source of time. Nil: the wall clock.
	Clock Clock

	// Random supplies randomness for refresh jitter and backoff (a
	// deterministic source makes tests repeatable). It is used under a
	// lock. Nil: crypto/rand.Reader. Generated secrets and sealing nonces
	// always come from crypto/rand.
	Random io.Reader

	// UnusedAfter flags, in the inventory, secrets not read for this long
	// (since their last read, or since they were loaded): candidates for
	// retirement. Zero: 30 days. Negative: never flagged.
	UnusedAfter time.Duration

	// ExpiryWarning flags, in the inventory, secrets that expire within
	// this long. A secret is also flagged when less than a third of its
	// lifetime is left. Zero: only the one-third rule.
	ExpiryWarning time.Duration

	// MaxLockedMemory caps the bytes of memory the Store locks for its
	// sealing key and scratch space. Zero or negative: 2 MiB. The effective cap is
	// also bounded by RLIMIT_MEMLOCK unless the process has CAP_IPC_LOCK.
	MaxLockedMemory int64

	// AllowUnlockedMemory lets Open succeed where no memory can be locked:
	// values stay sealed, but the key and scratch space may be swapped to
	// disk. The Store then logs a warning, reports it in the
	// strongroom.memory.locked metric (0) and in every Metadata.LockedMemory.
	// False: Open fails with ErrLockedMemory.
	AllowUnlockedMemory bool

	// EventBuffer is how many events may wait for one slow subscriber;
	// past that, events for it are dropped and counted in the next
	// delivered Event.Dropped. Zero or negative: 1024.
	EventBuffer int
}

const (
	defaultUnusedAfter = 30 * 24 * time.Hour
	defaultEventBuffer = 1024
)
