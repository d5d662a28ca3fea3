package secretsmanager

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
)

// TestPollCost counts the calls one poll makes for 150 watched secrets
// (and one that does not exist): one DescribeSecret each by default; with
// Options.ListSecrets, two ListSecrets calls (100 secrets a page) and one
// DescribeSecret for the secret no listing shows. A change is signalled
// to the changed secret's watch only, either way, and the tags the listing
// carried spare the fetch its DescribeSecret.
func TestPollCost(t *testing.T) {
	const n = 150
	k := awstest.StartKumo(t)
	driver := sm.NewFromConfig(k.Config(), func(o *sm.Options) { o.BaseEndpoint = aws.String(k.URL) })
	ctx := context.Background()
	for i := range n {
		name := fmt.Sprintf("cost/%03d", i)
		_, err := driver.CreateSecret(ctx, &sm.CreateSecretInput{Name: &name, SecretString: aws.String("v1"),
			Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("team-a")}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, list := range []bool{false, true} {
		t.Run(fmt.Sprintf("ListSecrets=%v", list), func(t *testing.T) {
			cfg, calls := k.CountingConfig()
			client := sm.NewFromConfig(cfg, func(o *sm.Options) { o.BaseEndpoint = aws.String(k.URL) })
			const poll = 150 * time.Millisecond
			p, err := New(ctx, &Options{Client: client, PollInterval: poll, ListSecrets: list})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var mu sync.Mutex
			fired := map[string]int{}
			for i := range n + 1 {
				name := fmt.Sprintf("cost/%03d", i) // cost/150 does not exist
				stop, err := p.Watch(ctx, Ref(name), func() { mu.Lock(); fired[name]++; mu.Unlock() })
				if err != nil {
					t.Fatal(err)
				}
				defer stop()
			}
			// Let the first poll (which, listing, learns the page count)
			// pass, then count three whole polls' worth of calls: a poll
			// of 151 describes can outlast the interval under -race.
			time.Sleep(poll + poll/2)
			calls.Reset()
			enough := func() bool {
				if list {
					return calls.Count("ListSecrets") >= 6
				}
				return calls.Count("DescribeSecret") >= 3*(n+1)
			}
			for deadline := time.Now().Add(20 * time.Second); !enough(); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("three polls not done in 20 s: %d DescribeSecret, %d ListSecrets", calls.Count("DescribeSecret"), calls.Count("ListSecrets"))
				}
			}
			d, l := calls.Count("DescribeSecret"), calls.Count("ListSecrets")
			t.Logf("%d DescribeSecret, %d ListSecrets, %d GetSecretValue", d, l, calls.Count("GetSecretValue"))
			if !list && l != 0 {
				t.Errorf("describing: %d ListSecrets calls", l)
			}
			if list && (d > l/2+1 || d < l/2-1) {
				t.Errorf("listing: %d DescribeSecret for %d ListSecrets, want one (the missing secret) a poll of two pages", d, l)
			}
			if got := calls.Count("GetSecretValue"); got != 0 {
				t.Errorf("polling transferred %d values", got)
			}

			calls.Reset()
			name := "cost/042"
			if _, err := driver.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &name, SecretString: aws.String(fmt.Sprint("v2 ", list))}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				got := fired[name]
				mu.Unlock()
				if got > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no change signalled within 5 s")
				}
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			if len(fired) != 1 {
				t.Errorf("signalled %v, want only %s", fired, name)
			}
			mu.Unlock()
			before := calls.Count("DescribeSecret")
			v, err := p.Fetch(ctx, Ref(name))
			if err != nil {
				t.Fatal(err)
			}
			if v.Labels["owner"] != "team-a" {
				t.Errorf("labels %v, want the owner tag", v.Labels)
			}
			if extra := calls.Count("DescribeSecret") - before; list && extra != 0 {
				t.Errorf("the fetch after a listed change called DescribeSecret %d times, want the listing's tags", extra)
			}
		})
	}
}
