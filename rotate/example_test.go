package rotate_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
)

// apiKeys stands for a service that accepts several API keys at once.
type apiKeys struct {
	mu   sync.Mutex
	keys [][]byte
}

func (a *apiKeys) accepts(k []byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.keys {
		if subtle.ConstantTimeCompare(x, k) == 1 {
			return true
		}
	}
	return false
}

// Rotating an API key with an overlapping strategy: the new key is added,
// tested, promoted in the store, and the old one retired after the
// overlap.
func Example() {
	ctx := context.Background()
	backend := memory.New(nil)
	backend.Set("api-key", []byte("first-api-key-0123456789"), nil)
	store, _ := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": backend}})
	defer store.Close()
	store.Add(secrets.Spec{Name: "api-key", Ref: "memory://api-key", Overlap: time.Minute})
	store.Ready(ctx)

	service := &apiKeys{keys: [][]byte{[]byte("first-api-key-0123456789")}}
	target := rotate.TargetFuncs{
		SetFunc: func(_ context.Context, c rotate.Credential) error {
			service.mu.Lock()
			defer service.mu.Unlock()
			service.keys = append(service.keys, bytes.Clone(c.Secret))
			return nil
		},
		TestFunc: func(_ context.Context, c rotate.Credential) error {
			if !service.accepts(c.Secret) {
				return fmt.Errorf("the service refuses key %s", c.ID)
			}
			return nil
		},
		RetireFunc: func(_ context.Context, keep rotate.Credential) error {
			service.mu.Lock()
			defer service.mu.Unlock()
			service.keys = [][]byte{bytes.Clone(keep.Secret)}
			return nil
		},
	}

	rot, _ := rotate.New(store, nil)
	defer rot.Close()
	err := rot.Add(ctx, rotate.Rotation{
		Secret: "api-key", PendingRef: "memory://api-key.pending", StateRef: "memory://api-key.rotation",
		Target: target, Strategy: rotate.Overlapping(""),
		Policy: rotate.Policy{Every: 24 * time.Hour, Overlap: 50 * time.Millisecond, ReadQuiet: time.Millisecond},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := rot.RotateNow(ctx, "api-key"); err != nil {
		fmt.Println(err)
		return
	}
	store.Use(ctx, "api-key", func(k []byte) error {
		fmt.Println("the service accepts the new key:", service.accepts(k))
		return nil
	})
	fmt.Println("the service accepts the first key:", service.accepts([]byte("first-api-key-0123456789")))
	st, _ := rot.Status("api-key")
	fmt.Println(st.LastOutcome)
	// Output:
	// the service accepts the new key: true
	// the service accepts the first key: false
	// rotated
}
