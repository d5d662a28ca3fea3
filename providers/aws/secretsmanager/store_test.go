package secretsmanager

import (
	"context"
	"testing"
	"time"

	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
	"github.com/strongroom/strongroom/secrets"
)

// TestRotationSeenByStore: a value changed with the AWS SDK directly (as a
// rotation Lambda or an operator would) is served by a running store
// within the poll interval, with a rotated event naming both version ids.
func TestRotationSeenByStore(t *testing.T) {
	ctx := context.Background()
	client := startKumo(t)
	set(t, client, "app/db", []byte("password-1"))
	first, err := client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: strPtr("app/db")})
	if err != nil {
		t.Fatal(err)
	}
	const poll = 200 * time.Millisecond
	p, err := New(ctx, &Options{Client: client, PollInterval: poll})
	if err != nil {
		t.Fatal(err)
	}
	store := awstest.Store(t, Scheme, p, secrets.Spec{Name: "db", Ref: Ref("app/db")})
	events := make(chan secrets.Event, 10)
	cancel, err := store.Subscribe("db", func(e secrets.Event) { events <- e })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	set(t, client, "app/db", []byte("password-2"))
	changed := time.Now()
	second, err := client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: strPtr("app/db")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.Kind != secrets.EventRotated || e.Version != *second.VersionId || e.PreviousVersion != *first.VersionId {
			t.Errorf("event %v %s <- %s, want rotated %s <- %s", e.Kind, e.Version, e.PreviousVersion, *second.VersionId, *first.VersionId)
		}
		// One poll interval, and the fetch after it; kumo keeps
		// LastChangedDate to the second, but versions change at once.
		if d := time.Since(changed); d > 4*poll+time.Second {
			t.Errorf("the change was served after %v, with a poll interval of %v", d, poll)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no rotated event within 10 s")
	}
	var got string
	store.Use(ctx, "db", func(v []byte) error { got = string(v); return nil })
	if got != "password-2" {
		t.Errorf("the store serves %q", got)
	}
}

func strPtr(s string) *string { return &s }
