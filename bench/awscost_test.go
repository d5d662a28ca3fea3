package bench

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-secretsmanager-caching-go/v2/secretcache"
	"github.com/sivchari/kumo"

	"github.com/strongroom/strongroom/providers"
	awssm "github.com/strongroom/strongroom/providers/aws/secretsmanager"
	"github.com/strongroom/strongroom/secrets"
)

// costEnv gates TestAWSCost, which .ci/run does not run: it takes minutes.
const costEnv = "STRONGROOM_COST"

// The scenario of the cost issue.
const (
	costDay       = 24 * time.Hour
	costFreshness = 5 * time.Minute  // strongroom's PollInterval, the caching client's CacheItemTTL
	costReadEvery = 10 * time.Second // every secret is read through every library this often
	costSeed      = 20261126
)

// TestAWSCost counts the Secrets Manager calls that strongroom (polling
// with DescribeSecret, its default, and with Options.ListSecrets) and the
// AWS caching client (aws-secretsmanager-caching-go) make to serve n
// secrets for a day, each rotated once at a random time, at a freshness
// bound of five minutes, and how long each takes to serve a rotated
// value. The day runs in a synctest bubble: the libraries are configured
// with the real five minutes and the clock jumps whenever every goroutine
// waits, so 24 virtual hours take as long as the calls do. All three read
// the same emulator (kumo, outside the bubble) at the same time.
//
//	STRONGROOM_COST=1 go test -run '^TestAWSCost$' -v -count=1
func TestAWSCost(t *testing.T) {
	if os.Getenv(costEnv) == "" {
		t.Skipf("set %s=1 to run (a few minutes)", costEnv)
	}
	// kumo keeps its state per process, not per server: one server
	// serves every sub-test, each of which deletes its secrets at the end
	// so that the next one's ListSecrets does not see them.
	srv := kumo.NewServer()
	defer srv.Close()
	w := startWire(t)
	for _, c := range []struct {
		name         string
		n, unwatched int
	}{
		{"100", 100, 0},
		{"1000", 1000, 0},
		// An account with more secrets than the program reads: an
		// unfiltered ListSecrets pages through all of them.
		{"100-of-1000", 100, 900},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r costResult
			began := time.Now()
			synctest.Test(t, func(t *testing.T) { r = runCostDay(t, srv.URL, w, "cost-"+c.name, c.n, c.unwatched) })
			r.wall = time.Since(began)
			r.log(t)
		})
	}
}

// costResult is what one day measured.
type costResult struct {
	n, account int // secrets read, secrets in the account
	libs       []*costLib
	driver     map[string]int
	wall       time.Duration
}

// costLib is one library's figures.
type costLib struct {
	name          string
	calls, failed map[string]int // in the day, start-up included
	// lags holds, per rotation, the time until the library served the
	// new value: strongroom's rotated event (a read at any time after it
	// returns the new value), the caching client's first read that
	// returned it (it refreshes only on reads).
	lags []time.Duration
	// firstRead holds, per rotation, the time until the reader first got
	// the new value (strongroom; the same as lags for the caching client).
	firstRead []time.Duration
	unserved  int // rotations never served
}

func costValue(i, version int) []byte {
	return fmt.Appendf(nil, "value %d of secret %04d, 32 b", version, i)
}

// reader is one library as the reader loop sees it.
type reader struct {
	lib      *costLib
	counter  *callCounter
	read     func(name string) (string, error)
	served   []time.Time // by secret: when the new value was served
	readNew  []time.Time // by secret: when a read first returned it
	fromRead bool        // served is the first read of the new value
}

// runCostDay runs the day for n secrets read and rotated, in an account
// that holds unwatched more that nobody reads; every secret's name starts
// with prefix.
func runCostDay(t *testing.T, endpoint string, w *wire, prefix string, n, unwatched int) costResult {
	ctx := context.Background()
	start := time.Now()
	driverCalls := newCallCounter(w)
	driver := costClient(endpoint, driverCalls)

	names, others := make([]string, n), make([]string, unwatched)
	old, rotated := make([][]byte, n), make([][]byte, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s/secret-%04d", prefix, i)
		old[i], rotated[i] = costValue(i, 1), costValue(i, 2)
		if _, err := driver.CreateSecret(ctx, &sm.CreateSecretInput{Name: &names[i], SecretString: aws.String(string(old[i]))}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range others {
		others[i] = fmt.Sprintf("%s/other-%04d", prefix, i)
		if _, err := driver.CreateSecret(ctx, &sm.CreateSecretInput{Name: &others[i], SecretString: aws.String(string(costValue(i, 1)))}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, name := range append(names, others...) {
			if _, err := driver.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: &name, ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
				t.Error(err)
			}
		}
	}()
	account := 0
	for pages := sm.NewListSecretsPaginator(driver, &sm.ListSecretsInput{}); pages.HasMorePages(); {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		account += len(page.SecretList)
	}
	rng := rand.New(rand.NewPCG(costSeed, uint64(n)))
	rotateAt := make([]time.Duration, n)
	for i := range rotateAt {
		rotateAt[i] = time.Duration(rng.Int64N(int64(costDay)))
	}
	index := make(map[string]int, n)
	for i, name := range names {
		index[name] = i
	}

	var mu sync.Mutex // guards the times in readers and rotatedAt
	rotatedAt := make([]time.Time, n)
	var readers []*reader
	newReader := func(name string) *reader {
		r := &reader{lib: &costLib{name: name}, counter: newCallCounter(w), served: make([]time.Time, n), readNew: make([]time.Time, n)}
		readers = append(readers, r)
		return r
	}

	// strongroom: a store over the provider, no Refresh.Interval, so the
	// provider's watch drives every refresh.
	for _, list := range []bool{false, true} {
		label := "strongroom, DescribeSecret (default)"
		if list {
			label = "strongroom, Options.ListSecrets"
		}
		r := newReader(label)
		p, err := awssm.New(ctx, &awssm.Options{Client: costClient(endpoint, r.counter), PollInterval: costFreshness, ListSecrets: list})
		if err != nil {
			t.Fatal(err)
		}
		store, err := secrets.Open(ctx, &secrets.Options{
			Providers:           map[string]providers.Provider{awssm.Scheme: p},
			AllowUnlockedMemory: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		for _, name := range names {
			if err := store.Add(secrets.Spec{Name: name, Ref: awssm.Ref(name)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		cancel, err := store.Subscribe("*", func(e secrets.Event) {
			if e.Kind != secrets.EventRotated {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if i := index[e.Secret]; r.served[i].IsZero() {
				r.served[i] = e.Time
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		r.read = func(name string) (string, error) {
			var s string
			err := store.Use(ctx, name, func(v []byte) error { s = string(v); return nil })
			return s, err
		}
	}

	// The caching client with the same bound; it refreshes on reads.
	cr := newReader("caching client")
	cr.fromRead = true
	cache, err := secretcache.New(func(c *secretcache.Cache) {
		c.Client = costClient(endpoint, cr.counter)
		c.CacheItemTTL = costFreshness.Nanoseconds()
		c.MaxCacheSize = max(n, secretcache.DefaultMaxCacheSize)
	})
	if err != nil {
		t.Fatal(err)
	}
	cr.read = cache.GetSecretString

	// The driver rotates each secret once, in the order drawn.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(rotateAt[a], rotateAt[b]) })
	driverDone := make(chan struct{})
	go func() {
		defer close(driverDone)
		for _, i := range order {
			time.Sleep(time.Until(start.Add(rotateAt[i])))
			if _, err := driver.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: &names[i], SecretString: aws.String(string(rotated[i]))}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			rotatedAt[i] = time.Now()
			mu.Unlock()
		}
	}()

	// The reader reads every secret through every library each
	// costReadEvery, from the start.
	stop, readerDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readerDone)
		tick := time.NewTicker(costReadEvery)
		defer tick.Stop()
		for {
			for i, name := range names {
				for _, r := range readers {
					s, err := r.read(name)
					isNew := s == string(rotated[i])
					mu.Lock()
					switch {
					case err != nil:
						t.Errorf("%s, %s: %v", r.lib.name, name, err)
					case !isNew && s != string(old[i]):
						t.Errorf("%s, %s: a value neither old nor new", r.lib.name, name)
					case isNew && r.readNew[i].IsZero():
						r.readNew[i] = time.Now()
						if r.fromRead {
							r.served[i] = r.readNew[i]
						}
					case !isNew && !r.readNew[i].IsZero():
						t.Errorf("%s, %s: the old value again after the new one", r.lib.name, name)
					}
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	// The day is [start, start+24h): what happens at 24h is the next day's.
	time.Sleep(time.Until(start.Add(costDay)) - time.Nanosecond)
	synctest.Wait()
	res := costResult{n: n, account: account}
	res.driver, _ = driverCalls.snapshot()
	for _, r := range readers {
		r.lib.calls, r.lib.failed = r.counter.snapshot()
		res.libs = append(res.libs, r.lib)
	}

	// Rotations late in the day are served after it: wait for them (their
	// calls are not counted), for at most an hour.
	<-driverDone
	allServed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range readers {
			for i := range n {
				if r.served[i].IsZero() || r.readNew[i].IsZero() {
					return false
				}
			}
		}
		return true
	}
	for end := start.Add(costDay + time.Hour); !allServed() && time.Now().Before(end); {
		time.Sleep(costReadEvery)
	}
	close(stop)
	<-readerDone

	mu.Lock()
	defer mu.Unlock()
	for _, r := range readers {
		for i := range n {
			if r.served[i].IsZero() || r.readNew[i].IsZero() {
				r.lib.unserved++
				continue
			}
			r.lib.lags = append(r.lib.lags, r.served[i].Sub(rotatedAt[i]))
			r.lib.firstRead = append(r.lib.firstRead, r.readNew[i].Sub(rotatedAt[i]))
		}
		if r.lib.unserved > 0 {
			t.Errorf("%s: %d of %d rotations not served within an hour after the day", r.lib.name, r.lib.unserved, n)
		}
	}
	return res
}

// lagStats returns the median and the maximum of ds.
func lagStats(ds []time.Duration) (median, maximum time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0, 0
	}
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return m, s[len(s)-1]
}

func total(calls map[string]int) int {
	sum := 0
	for _, v := range calls {
		sum += v
	}
	return sum
}

// log prints the result as the Markdown table of bench/README.md, and
// the details behind it.
func (r costResult) log(t *testing.T) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%d secrets read (of %d in the account), one rotation each, 24 virtual hours, freshness bound %v, reads every %v\n",
		r.n, r.account, costFreshness, costReadEvery)
	fmt.Fprintf(&b, "wall time %v; driver calls: %v\n", r.wall.Round(time.Millisecond), r.driver)
	b.WriteString("| library | GetSecretValue | DescribeSecret | ListSecrets | total | per secret per day | caching client ÷ this | served after (median / max) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	cache := total(r.libs[len(r.libs)-1].calls)
	round := func(d time.Duration) time.Duration { return d.Round(time.Second) }
	for _, l := range r.libs {
		tot := total(l.calls)
		med, mx := lagStats(l.lags)
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %.2f | %.2f | %v / %v |\n", l.name,
			l.calls["GetSecretValue"], l.calls["DescribeSecret"], l.calls["ListSecrets"], tot,
			float64(tot)/float64(r.n), float64(cache)/float64(tot), round(med), round(mx))
	}
	for _, l := range r.libs {
		med, mx := lagStats(l.firstRead)
		fmt.Fprintf(&b, "%s: first read of the new value after median %v, max %v; all calls %v, failed %v\n",
			l.name, med, mx, l.calls, l.failed)
	}
	t.Log("\n" + b.String())
}
