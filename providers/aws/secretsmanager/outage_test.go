package secretsmanager

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/secrets"
)

// TestOutage stops the emulator under a running store: the last good value
// is served until MaxStale has passed, then reads fail with ErrStale (an
// error naming the secret, holding no credential); started again, the
// store recovers by itself, and a change made after is served.
func TestOutage(t *testing.T) {
	ctx := context.Background()
	k := awstest.StartKumo(t)
	client := sm.NewFromConfig(k.Config(), func(o *sm.Options) { o.BaseEndpoint = aws.String(k.URL) })
	set(t, client, "outage/db", []byte("before"))
	p, err := New(ctx, &Options{Client: client, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const maxStale = time.Second
	store := awstest.Store(t, Scheme, p, secrets.Spec{Name: "db", Ref: Ref("outage/db"), MaxStale: maxStale,
		Refresh: secrets.RefreshPolicy{Interval: 200 * time.Millisecond, MinBackoff: 100 * time.Millisecond,
			MaxBackoff: 400 * time.Millisecond, Timeout: time.Second}})
	read := func() (string, error) {
		var got string
		err := store.Use(ctx, "db", func(v []byte) error { got = string(v); return nil })
		return got, err
	}
	// until reads every 10 ms until done says so, for at most 20 s, and
	// returns when.
	until := func(what string, done func(string, error) bool) time.Time {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if done(read()) {
				return time.Now()
			}
			if time.Now().After(deadline) {
				got, err := read()
				t.Fatalf("%s: not within 20 s (read %q, %v)", what, got, err)
			}
		}
	}

	k.Stop()
	stopped := time.Now()
	var staleErr error
	failed := until("ErrStale once MaxStale has passed", func(got string, err error) bool {
		if err == nil && got != "before" {
			t.Fatalf("during the outage the store served %q", got)
		}
		staleErr = err
		return err != nil
	})
	served := failed.Sub(stopped)
	t.Logf("the last good value was served for %v after the emulator stopped (MaxStale %v); then: %v", served, maxStale, staleErr)
	if !errors.Is(staleErr, secrets.ErrStale) {
		t.Errorf("after MaxStale: %v, want ErrStale", staleErr)
	}
	// A refresh falls due at most one interval after the stop.
	if served < maxStale-200*time.Millisecond {
		t.Errorf("ErrStale %v after the stop, before MaxStale (%v) could have passed", served, maxStale)
	}
	msg := staleErr.Error()
	if !strings.Contains(msg, `"db"`) && !strings.Contains(msg, "db") {
		t.Errorf("the error does not name the secret: %s", msg)
	}
	for e := staleErr; e != nil; e = errors.Unwrap(e) {
		for _, c := range []string{awstest.KeyID, awstest.SecretKey, awstest.SessionToken} {
			if strings.Contains(e.Error(), c) {
				t.Errorf("an error in the chain holds a credential: %s", e.Error())
			}
		}
	}

	k.Start()
	started := time.Now()
	back := until("recovery after the emulator started again", func(got string, err error) bool { return err == nil && got == "before" })
	t.Logf("recovered %v after the emulator started again (MaxBackoff 400ms)", back.Sub(started))
	set(t, client, "outage/db", []byte("after"))
	until("a change after the recovery", func(got string, err error) bool { return err == nil && got == "after" })
}
