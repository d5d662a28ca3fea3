package ssm

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/secrets"
)

// TestRotationSeenByStore: a value changed with the AWS SDK directly (as
// an operator or a pipeline would) is served by a running store within
// the poll interval, with a rotated event naming both versions; the
// parameter's owner and classification tags reach the store's inventory,
// a tag changed with the version that follows it.
func TestRotationSeenByStore(t *testing.T) {
	ctx := context.Background()
	client := startKumo(t)
	const name = "/store/app/db/password"
	put(t, client, name, "password-1", types.ParameterTypeSecureString)
	tag(t, client, name, "owner", "payments")
	tag(t, client, name, "classification", "confidential")
	first := current(t, client, name)
	const poll = 200 * time.Millisecond
	p, err := New(ctx, &Options{Client: client, PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	store := awstest.Store(t, Scheme, p, secrets.Spec{Name: "db", Ref: Ref(name)})
	events := make(chan secrets.Event, 10)
	cancel, err := store.Subscribe("db", func(e secrets.Event) { events <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	inventory(t, store, "payments", "confidential", versionOf(first.Version, first.LastModifiedDate))

	tag(t, client, name, "owner", "identity")
	time.Sleep(2 * time.Millisecond) // a new millisecond for the new version
	put(t, client, name, "password-2", "")
	changed := time.Now()
	second := current(t, client, name)
	want, was := versionOf(second.Version, second.LastModifiedDate), versionOf(first.Version, first.LastModifiedDate)
	select {
	case e := <-events:
		if e.Kind != secrets.EventRotated || e.Version != want || e.PreviousVersion != was {
			t.Errorf("event %v %s <- %s, want rotated %s <- %s", e.Kind, e.Version, e.PreviousVersion, want, was)
		}
		// One poll interval, and the fetch after it.
		if d := time.Since(changed); d > 2*poll+time.Second {
			t.Errorf("the change was served after %v, with a poll interval of %v", d, poll)
		}
		t.Logf("rotated %s <- %s after %v", e.Version, e.PreviousVersion, time.Since(changed))
	case <-time.After(10 * time.Second):
		t.Fatal("no rotated event within 10 s")
	}
	var got string
	store.Use(ctx, "db", func(v []byte) error { got = string(v); return nil })
	if got != "password-2" {
		t.Errorf("the store serves %q", got)
	}
	inventory(t, store, "identity", "confidential", want)
}

// inventory checks what the store's inventory says of secret "db".
func inventory(t *testing.T, store *secrets.Store, owner, classification, version string) {
	t.Helper()
	m, err := store.Metadata("db")
	if err != nil {
		t.Fatal(err)
	}
	if m.Owner != owner || string(m.Classification) != classification || m.Version != version || m.Source != Scheme {
		t.Errorf("inventory: owner %q, classification %q, version %q, source %q; want %q, %q, %q, %q",
			m.Owner, m.Classification, m.Version, m.Source, owner, classification, version, Scheme)
	}
}
