package certs

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/strongroom/strongroom/internal/fanout"
)

// EventKind says what happened to a certificate or a trust bundle.
type EventKind int

// Kinds of event.
const (
	_ EventKind = iota
	// EventLoaded: the first certificate (or bundle) is in service; for a
	// TrustBundle, also the bundle back in service after a withdrawal.
	EventLoaded
	// EventRotated: a new certificate (or bundle) replaced the one in
	// service; the next handshake uses it.
	EventRotated
	// EventRejected: a new value was refused (it did not parse, the key
	// did not match, it was outside its validity window, its chain or
	// names did not verify); the one in service stays. Event.Err says why
	// and names the secret.
	EventRejected
	// EventExpiring: the certificate in service crossed an expiry
	// threshold (Event.Threshold).
	EventExpiring
	// EventExpired: the certificate in service reached its NotAfter and
	// was withdrawn.
	EventExpired
	// EventRenewed: a renewal obtained a new certificate. Event.Err is set
	// when it could not be written back to the store, so that it is
	// served from memory only. It comes before the certificate is in
	// service: an EventLoaded or EventRotated with the same Serial follows
	// once it is (a Renew call returns after that), or an
	// EventRenewalFailed if it cannot be put in service.
	EventRenewed
	// EventRenewalFailed: a renewal attempt failed; it is retried after a
	// backoff, and the certificate in service stays.
	EventRenewalFailed
	// EventWithdrawn: the certificate is no longer served: a secret of
	// its pair was revoked or deleted (the pair stays out of service, its
	// renewals stopped, until the secret is loaded again), the store
	// stopped serving a secret of the pair (its staleness budget or
	// expiry), or renewals failed past Renewal.MaxStale. For a
	// TrustBundle: its secret was revoked, deleted, went stale or expired,
	// and the bundle trusts no CA until it is loaded again.
	EventWithdrawn
)

var eventNames = [...]string{"", "loaded", "rotated", "rejected", "expiring", "expired", "renewed", "renewal_failed", "withdrawn"}

// String returns the kind's name: "loaded", "rotated", "rejected", ...
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// MarshalText encodes the kind's name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event tells a subscriber what happened. It carries public certificate
// facts, never a private key.
type Event struct {
	Kind        EventKind // what happened
	Certificate string    // the Pair's or TrustBundle's name
	Secret      string    // the secret concerned, when one is
	// Serial, Fingerprint and NotAfter describe the certificate
	// concerned: the new one for EventRotated and EventRenewed, the first
	// of the bundle for a TrustBundle's events. Empty for failures.
	Serial      string    // hexadecimal
	Fingerprint string    // SHA-256 of the leaf's DER, hexadecimal
	NotAfter    time.Time // the leaf's
	// PreviousFingerprint: for EventRotated, the certificate replaced.
	PreviousFingerprint string
	// Threshold: for EventExpiring, the threshold crossed.
	Threshold Threshold
	Time      time.Time // when it happened, by the clock of the Source
	Err       error     // why, for rejections, failures and withdrawals
	// Dropped counts the events after this one that were not delivered
	// to this subscriber because its queue was full.
	Dropped int
}

// String describes the event in one line.
func (e Event) String() string {
	s := e.Kind.String() + " " + e.Certificate
	if e.Secret != "" {
		s += " (secret " + e.Secret + ")"
	}
	if e.Serial != "" {
		s += " serial " + e.Serial
	}
	if !e.NotAfter.IsZero() {
		s += " not_after " + stamp(e.NotAfter)
	}
	if e.Kind == EventExpiring {
		s += " threshold " + e.Threshold.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// LogValue makes slog log the event's fields.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("event", e.Kind.String()), slog.String("certificate", e.Certificate)}
	if e.Secret != "" {
		attrs = append(attrs, slog.String("secret", e.Secret))
	}
	if e.Serial != "" {
		attrs = append(attrs, slog.String("serial", e.Serial), slog.String("sha256", e.Fingerprint), slog.Time("not_after", e.NotAfter))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// defaultEventBuffer is how many events may wait for one subscriber when
// Options.EventBuffer (or TrustOptions.EventBuffer) is zero.
const defaultEventBuffer = 256

// hub fans events out to subscribers through internal/fanout: each on
// its own goroutine with its own bounded queue, so that a slow subscriber
// delays only itself. An event that finds a queue full is counted in the
// Dropped field of the last event queued.
type hub struct{ fanout.Hub[Event] }

// newHub returns a hub queueing up to buffer events per subscriber (zero
// or less: defaultEventBuffer) and logging a subscriber's panic on log.
func newHub(log *slog.Logger, buffer int) *hub {
	if buffer <= 0 {
		buffer = defaultEventBuffer
	}
	h := &hub{}
	h.Buffer = buffer
	h.Drop = func(last *Event) { last.Dropped++ }
	h.Panic = func(ev Event, _ any) {
		log.Error("strongroom: certs event subscriber panicked", "event", ev.Kind.String(), "certificate", ev.Certificate)
	}
	return h
}

func (h *hub) subscribe(fn func(Event)) (cancel func(), err error) {
	if fn == nil {
		return nil, &Error{Op: "subscribe", Kind: ErrConfig, Err: reason("nil func")}
	}
	cancel, ok := h.Subscribe(func(Event) bool { return true }, fn)
	if !ok {
		return nil, &Error{Op: "subscribe", Kind: ErrClosed}
	}
	return cancel, nil
}
