package ssm

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/providers/aws/internal/awstest"
)

// TestPollBatching watches 125 parameters (120 in a hierarchy, 5 at the
// top level, whose two spellings the filter lists) and counts the
// DescribeParameters calls of each poll: 130 names in filters of up to 50
// make 3 calls, not 125, and no GetParameter, which would transfer
// values. A change, a deletion and a creation, one in each batch, are
// signalled to their own watches only.
func TestPollBatching(t *testing.T) {
	const hier, top = 120, 5
	k := awstest.StartKumo(t)
	cfg, calls := k.CountingConfig()
	c := client(k, cfg)
	var names []string
	for i := range hier {
		names = append(names, fmt.Sprintf("/batch/app/p%03d", i))
	}
	for i := range top {
		names = append(names, fmt.Sprintf("batch-top-%d", i))
	}
	for _, n := range names[1:] { // the first is created during the test
		put(t, c, n, "v1", types.ParameterTypeString)
	}

	p := newProvider(t, c, &Options{PollInterval: 100 * time.Millisecond})
	polls := make(chan int, 100)
	p.onPoll = func() { polls <- calls.Count("DescribeParameters") }
	var mu sync.Mutex
	fired := map[string]int{}
	for _, n := range names {
		stop, err := p.Watch(t.Context(), Ref(n), func() { mu.Lock(); fired[n]++; mu.Unlock() })
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
	}
	for len(polls) > 0 { // polls during the Watch calls
		<-polls
	}
	next := func() int {
		t.Helper()
		select {
		case n := <-polls:
			return n
		case <-time.After(10 * time.Second):
			t.Fatal("no poll within 10 s")
			return 0
		}
	}
	const perPoll = 3 // ceil((120 + 2*5) / 50)
	before := next()
	for range 3 {
		after := next()
		if after-before != perPoll {
			t.Errorf("a poll of %d watched parameters made %d DescribeParameters calls, want %d", len(names), after-before, perPoll)
		}
		before = after
	}
	if n := calls.Count("GetParameter"); n != 0 {
		t.Errorf("polling made %d GetParameter calls", n)
	}

	// One change in each batch: created, changed, deleted.
	created, changed, deleted := names[0], names[60], names[len(names)-1]
	put(t, c, created, "v1", types.ParameterTypeString)
	time.Sleep(2 * time.Millisecond)
	put(t, c, changed, "v2", "")
	remove(t, c, deleted)
	next()
	next() // the poll under way may have missed some
	mu.Lock()
	defer mu.Unlock()
	for _, n := range names {
		want := 0
		if n == created || n == changed || n == deleted {
			want = 1
		}
		if fired[n] != want {
			t.Errorf("the watch of %s was signalled %d times, want %d", n, fired[n], want)
		}
	}
}

// TestBatches: names of one level count twice towards the 50 a filter
// takes.
func TestBatches(t *testing.T) {
	var keys []string
	for i := range 26 {
		keys = append(keys, fmt.Sprintf("top%02d", i)) // 52 names
	}
	got := batches(keys)
	if len(got) != 2 || len(got[0]) != 25 || len(got[1]) != 1 {
		t.Errorf("26 names of one level cut into %d batches (%d, ...), want 25 and 1", len(got), len(got[0]))
	}
	if got := batches(nil); len(got) != 0 {
		t.Errorf("no names cut into %d batches", len(got))
	}
}

// TestCloseStopsPoller: Close waits for the poller, after which no watch is
// signalled.
func TestCloseStopsPoller(t *testing.T) {
	c := startKumo(t)
	const name = "/close/db"
	put(t, c, name, "v1", types.ParameterTypeString)
	p, err := New(context.Background(), &Options{Client: c, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	if _, err := p.Watch(t.Context(), Ref(name), func() { mu.Lock(); calls++; mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	p.Close()
	select {
	case <-p.done:
	default:
		t.Fatal("Close returned with the poller running")
	}
	put(t, c, name, "v2", "")
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Errorf("a watch was signalled %d times after Close", calls)
	}
}
