package ssm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// Limits of DescribeParameters.
const (
	// filterValues is how many names one ParameterStringFilter may list.
	filterValues = 50
	// pageSize is the most parameters one answer may hold.
	pageSize = 50
	// maxPages bounds the pages followed for one call's filter: AWS
	// answers "on a best-effort basis" and may cut a page short, with a
	// NextToken; a poll that stops early treats what it did not see as
	// unknown, not as gone.
	maxPages = 20
)

// missing is the state of a parameter that does not exist.
const missing = "missing"

// watched is one parameter under watch: the state last seen (its version
// and time, or missing) and the watches of it.
type watched struct {
	state string
	subs  map[*sub]struct{}
}

// sub is one call of Watch. Its lock is held while fn runs, so that end
// waits for a call under way.
type sub struct {
	mu sync.Mutex
	fn func() // nil once ended
}

func (s *sub) call() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fn != nil {
		s.fn()
	}
}

func (s *sub) end() {
	s.mu.Lock()
	s.fn = nil
	s.mu.Unlock()
}

// Watch calls changed when the parameter ref names may have changed: a
// new version, or its deletion or creation. One poller per provider
// serves every watch: each Options.PollInterval it calls
// DescribeParameters, which transfers no value, with a filter listing up
// to 50 of the watched names, and signals a change when a parameter's
// version number, LastModifiedDate or existence changed. ctx bounds the
// first DescribeParameters only.
//
// A label moved to another version changes neither, so a watch of a ref
// with ?label= does not see it: the store's own refresh does.
func (p *Provider) Watch(ctx context.Context, s string, changed func()) (func(), error) {
	r, err := p.parse(s, "Watch")
	if err != nil {
		return nil, err
	}
	k := key(r.name)
	states, complete, err := p.states(ctx, []string{k})
	if err != nil {
		return nil, err
	}
	state, ok := states[k]
	if !ok && complete {
		state = missing
	} // else unknown: the first poll signals, harmlessly
	x := &sub{fn: changed}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil, closedError("Watch")
	}
	w := p.watched[k]
	if w == nil {
		w = &watched{state: state, subs: map[*sub]struct{}{}}
		p.watched[k] = w
	}
	w.subs[x] = struct{}{}
	if p.stop == nil {
		var pollCtx context.Context
		pollCtx, p.stop = context.WithCancel(context.Background())
		go p.poll(pollCtx)
	}
	p.mu.Unlock()
	return sync.OnceFunc(func() {
		p.mu.Lock()
		if w := p.watched[k]; w != nil {
			delete(w.subs, x)
			if len(w.subs) == 0 {
				delete(p.watched, k)
			}
		}
		p.mu.Unlock()
		x.end()
	}), nil
}

// poll is the provider's one poller: it runs until ctx ends (Close).
func (p *Provider) poll(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		keys := make([]string, 0, len(p.watched))
		for k := range p.watched {
			keys = append(keys, k)
		}
		p.mu.Unlock()
		slices.Sort(keys)
		for _, batch := range batches(keys) {
			states, complete, err := p.states(ctx, batch)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if p.log != nil {
					p.log.Warn(prefix+"poll failed", "parameters", len(batch), "err", err)
				}
				continue
			}
			p.update(batch, states, complete)
		}
		if p.onPoll != nil {
			p.onPoll()
		}
	}
}

// batches cuts keys into the lists one DescribeParameters filter takes:
// at most filterValues spellings each.
func batches(keys []string) [][]string {
	var out [][]string
	var cur []string
	n := 0
	for _, k := range keys {
		m := len(spellings(k))
		if n+m > filterValues {
			out = append(out, cur)
			cur, n = nil, 0
		}
		cur = append(cur, k)
		n += m
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// update records the states one poll saw of the parameters filed under
// keys, and signals the watches of each that changed. complete says that
// a parameter states lacks is gone, not just unseen.
func (p *Provider) update(keys []string, states map[string]string, complete bool) {
	var fire []*sub
	p.mu.Lock()
	for _, k := range keys {
		w := p.watched[k]
		if w == nil {
			continue
		}
		state, ok := states[k]
		if !ok {
			if !complete {
				continue
			}
			state = missing
		}
		if state == w.state {
			continue
		}
		w.state = state
		delete(p.tags, k) // tags may have changed too
		for x := range w.subs {
			fire = append(fire, x)
		}
	}
	p.mu.Unlock()
	for _, x := range fire {
		x.call()
	}
}

// states returns the state of each parameter filed under keys that
// exists, from DescribeParameters.
func (p *Provider) states(ctx context.Context, keys []string) (map[string]string, bool, error) {
	metas, complete, err := p.describe(ctx, keys)
	if err != nil {
		return nil, false, err
	}
	states := make(map[string]string, len(metas))
	for k, m := range metas {
		states[k] = versionOf(m.Version, m.LastModifiedDate)
	}
	return states, complete, nil
}

// describe returns the metadata of each parameter filed under keys that
// exists, with one DescribeParameters call (and more, when AWS cuts the
// answer into pages) whose filter lists every spelling of keys (at most
// filterValues). complete reports that every page was read, so that a
// key missing from the map is a parameter that does not exist. Results
// the filter should have excluded are skipped.
func (p *Provider) describe(ctx context.Context, keys []string) (map[string]types.ParameterMetadata, bool, error) {
	want := make(map[string]bool, len(keys))
	var names []string
	for _, k := range keys {
		want[k] = true
		names = append(names, spellings(k)...)
	}
	in := &ssm.DescribeParametersInput{
		ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("Equals"), Values: names}},
		MaxResults:       aws.Int32(pageSize),
	}
	out := make(map[string]types.ParameterMetadata, len(keys))
	for range maxPages {
		page, err := p.client.DescribeParameters(ctx, in)
		if err != nil {
			id := keys[0]
			if len(keys) > 1 {
				id = fmt.Sprintf("%s and %d more", keys[0], len(keys)-1)
			}
			return nil, false, apiError(ctx, "DescribeParameters", id, err)
		}
		for _, m := range page.Parameters {
			if k := key(aws.ToString(m.Name)); want[k] {
				out[k] = m
			}
		}
		if page.NextToken == nil {
			return out, true, nil
		}
		in.NextToken = page.NextToken
	}
	return out, false, nil
}
