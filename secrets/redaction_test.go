package secrets_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

const known = "s3cr3t-V4LU3-xyzzy"

// leaks reports the encodings of the known secret found in out.
func leaks(out string) []string {
	var found []string
	for name, enc := range map[string]string{
		"raw":    known,
		"hex":    hex.EncodeToString([]byte(known)),
		"HEX":    strings.ToUpper(hex.EncodeToString([]byte(known))),
		"base64": base64.StdEncoding.EncodeToString([]byte(known)),
		"bytes":  fmt.Sprint([]byte(known)),
		"go":     fmt.Sprintf("%#v", []byte(known)),
	} {
		if strings.Contains(out, enc) {
			found = append(found, name)
		}
	}
	return found
}

// Drives every output path a secret's value could take - fmt, slog, JSON,
// text marshalling, errors, events, inventory, health, trace spans and
// metric attributes - with a known value, and looks for it everywhere.
func TestNoSecretLeaks(t *testing.T) {
	var logs syncBuffer
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	opts := &secrets.Options{
		Logger:         slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AuditReads:     true,
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	}
	f := newFixture(t, opts)
	var out bytes.Buffer // everything the test can make the API print
	record := func(label string, v any) { fmt.Fprintf(&out, "%s: %v\n", label, v) }

	evch := f.events("*")

	// A validator that quotes the value, and one that panics with it.
	quoting := func(b []byte) error {
		if bytes.HasPrefix(b, []byte("bad:")) {
			return fmt.Errorf("refusing %q", b)
		}
		return nil
	}
	f.add(secrets.Spec{Name: "db", Validate: quoting, MaxStale: time.Minute}, known, &memory.SetOptions{TTL: time.Hour})
	f.mem.Set("p", []byte(known), nil)
	f.store.Add(secrets.Spec{Name: "p", Ref: memory.Ref("p"), Validate: func(b []byte) error { panic(string(b)) }})
	record("ready", f.store.Ready(ctx(t)))

	sec, err := f.store.Get(ctx(t), "db")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%p"} {
		fmt.Fprintf(&out, verb+"\n", sec)
	}
	fmt.Fprintln(&out, sec, sec.String(), sec.GoString())
	j, _ := json.Marshal(sec)
	txt, _ := sec.MarshalText()
	out.Write(j)
	out.Write(txt)
	slog.New(slog.NewTextHandler(&out, nil)).Info("handle", "secret", sec)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("handle", "secret", sec)

	// providers.Value holds material too.
	v := &providers.Value{Data: []byte(known), Version: "1"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		fmt.Fprintf(&out, verb+"\n", v)
		fmt.Fprintf(&out, verb+"\n", *v)
	}
	j, _ = json.Marshal(v)
	out.Write(j)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("value", "v", v)

	// Failures: a rejected value that the validator quotes, a backend
	// error that quotes the current value, staleness, expiry.
	f.mem.Set("db", []byte("bad:"+known), &memory.SetOptions{TTL: time.Hour})
	record("refresh rejected", f.store.Refresh(ctx(t), "db"))
	f.mem.Fail("db", errors.New("backend says: "+known), -1)
	record("refresh failed", f.store.Refresh(ctx(t), "db"))
	f.advance(2 * time.Minute)
	_, err = f.store.Get(ctx(t), "db")
	record("stale", err)
	record("health", f.store.Health())
	f.advance(time.Hour)
	_, err = f.store.Get(ctx(t), "db")
	record("expired", err)
	record("use expired", sec.Use(func([]byte) error { return nil }))

	inv := f.store.Inventory()
	record("inventory", inv)
	fmt.Fprintf(&out, "%#v\n", inv)
	j, _ = json.Marshal(inv)
	out.Write(j)

	// A scope refusal and a revocation.
	f.mem.Heal("db") // no failing fetch may outlive the value it would be compared with
	f.mem.Set("db", []byte(known), nil)
	f.store.Refresh(ctx(t), "db")
	view, _ := f.store.Scope("reporting", "other-*")
	_, err = view.Get(ctx(t), "db")
	record("refused", err)
	record("revoke", f.store.Revoke(ctx(t), "db"))
	record("use revoked", sec.Use(func([]byte) error { return nil }))

	next(t, evch, secrets.EventRevoked)
	var events []secrets.Event
	for len(evch) > 0 {
		events = append(events, <-evch)
	}
	for _, e := range events {
		record("event", e)
		fmt.Fprintf(&out, "%+v %#v\n", e, e)
		j, _ := json.Marshal(e)
		out.Write(j)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&out, "%+v\n", rm)
	for _, s := range spans.Ended() {
		fmt.Fprintf(&out, "span %s %v %v %v\n", s.Name(), s.Attributes(), s.Events(), s.Status())
	}
	if len(spans.Ended()) == 0 {
		t.Error("no fetch spans recorded")
	}

	for name, text := range map[string]string{"API output": out.String(), "logs": logs.String()} {
		if found := leaks(text); len(found) > 0 {
			for _, line := range strings.Split(text, "\n") {
				if len(leaks(line)) > 0 {
					t.Errorf("%s contain the secret (%v): %s", name, found, line)
				}
			}
		}
	}
	// The checks above must have had something to look at.
	for _, want := range []string{"[REDACTED]", "message withheld", "panicked (panic value withheld)", "stale", "expired", "permission denied", "revoked"} {
		if !strings.Contains(out.String()+logs.String(), want) {
			t.Errorf("output lacks %q: the test did not drive that path", want)
		}
	}
	if !strings.Contains(logs.String(), `"secret read"`) && !strings.Contains(logs.String(), "secret read") {
		t.Error("no audit record of reads in the log")
	}
}

// syncBuffer is a bytes.Buffer safe for the store's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
