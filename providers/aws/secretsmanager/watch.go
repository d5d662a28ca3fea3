package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/strongroom/strongroom/providers"
)

// watched is one secret under watch: the state last seen and its watches.
type watched struct {
	state   string
	watches map[int]*watch
}

// watch is one call of Watch.
type watch struct {
	mu      sync.Mutex // held while changed runs
	stopped bool
	changed func()
}

func (w *watch) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.changed()
	}
}

func (w *watch) stopAndWait() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

// Watch calls changed when the secret ref names may have changed. One
// poller per provider looks at every watched secret each
// Options.PollInterval, with calls that transfer no value: one
// DescribeSecret per secret, or with Options.ListSecrets one ListSecrets
// per 100 secrets of the account. It signals a change only when the
// secret's versions and their stages, LastChangedDate or existence
// changed. ctx bounds the first DescribeSecret only.
func (p *Provider) Watch(ctx context.Context, s string, changed func()) (func(), error) {
	r, err := parseRef(s)
	if err != nil {
		return nil, err
	}
	if p.closed.Load() {
		return nil, fmt.Errorf("%sWatch: %w", prefix, providers.ErrClosed)
	}
	state, err := p.describeState(ctx, r.id)
	if err != nil {
		return nil, err
	}
	w := &watch{changed: changed}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil, fmt.Errorf("%sWatch: %w", prefix, providers.ErrClosed)
	}
	ws := p.watched[r.id]
	if ws == nil {
		ws = &watched{state: state, watches: map[int]*watch{}}
		p.watched[r.id] = ws
	}
	id := p.nextID
	p.nextID++
	ws.watches[id] = w
	if !p.started {
		p.started = true
		go p.poll()
	}
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if cur := p.watched[r.id]; cur != nil {
				delete(cur.watches, id)
				if len(cur.watches) == 0 {
					delete(p.watched, r.id)
				}
			}
			p.mu.Unlock()
			w.stopAndWait()
		})
	}, nil
}

// describeState returns a summary of what DescribeSecret says of id that
// changes when its value, stages or metadata change.
func (p *Provider) describeState(ctx context.Context, id string) (string, error) {
	out, err := p.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &id})
	if err != nil {
		if codeOf(err) == "ResourceNotFoundException" && ctx.Err() == nil {
			return "missing", nil
		}
		return "", apiError(ctx, "DescribeSecret", id, err)
	}
	return stateOf(out.DeletedDate, out.LastChangedDate, out.VersionIdsToStages), nil
}

// stateOf summarises a secret as DescribeSecret and ListSecrets give it:
// the same secret gives the same summary from either.
func stateOf(deleted, lastChanged *time.Time, versions map[string][]string) string {
	if deleted != nil {
		return "deleted"
	}
	var b strings.Builder
	b.WriteString(aws.ToTime(lastChanged).UTC().Format(time.RFC3339Nano))
	vs := make([]string, 0, len(versions))
	for v, st := range versions {
		st = slices.Clone(st)
		slices.Sort(st)
		vs = append(vs, v+"="+strings.Join(st, ","))
	}
	slices.Sort(vs)
	for _, v := range vs {
		b.WriteString(";" + v)
	}
	return b.String()
}

// poll is the provider's one poller: it runs until Close.
func (p *Provider) poll() {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		ids := make([]string, 0, len(p.watched))
		for id := range p.watched {
			ids = append(ids, id)
		}
		p.mu.Unlock()
		seen := map[string]polled{}
		// List when it takes fewer calls than describing each secret,
		// as the last listing's page count says; look again now and then,
		// as the account may have shrunk.
		if p.list && len(ids) > 1 && (p.listPages < len(ids) || n%64 == 0) {
			ids = p.listStates(ids, seen)
		}
		for _, id := range ids {
			state, err := p.describeState(p.ctx, id)
			if p.ctx.Err() != nil {
				return
			}
			if err != nil {
				if p.log != nil {
					p.log.Warn("providers/aws/secretsmanager: poll failed", "secret", id, "err", err)
				}
				continue
			}
			seen[id] = polled{state: state}
		}
		if p.ctx.Err() != nil {
			return
		}
		for id, x := range seen {
			p.update(id, x)
		}
	}
}

// polled is what one poll saw of a secret: its state and, from a listing,
// its tags.
type polled struct {
	state string
	tags  *tagEntry
}

// update records what a poll saw of secret id, and signals its watches
// when the state changed.
func (p *Provider) update(id string, x polled) {
	p.mu.Lock()
	ws := p.watched[id]
	var fire []*watch
	if ws != nil && ws.state != x.state {
		ws.state = x.state
		if x.tags != nil {
			p.tags[id] = *x.tags
		} else {
			delete(p.tags, id) // tags may have changed too
		}
		for _, w := range ws.watches {
			fire = append(fire, w)
		}
	}
	p.mu.Unlock()
	for _, w := range fire {
		w.fire()
	}
}

// listStates fills seen for the watched ids that an unfiltered ListSecrets
// lists (100 secrets a call, every page), and returns the ids it did not
// find there, for DescribeSecret: a partial ARN, a secret created too
// recently to be listed, one that does not exist. When the list fails it
// returns every id; when it is denied it also turns listing off for the
// provider's life. Only the poller calls it.
func (p *Provider) listStates(ids []string, seen map[string]polled) []string {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	in := &sm.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true), MaxResults: aws.Int32(100)}
	pages := 0
	for {
		out, err := p.client.ListSecrets(p.ctx, in)
		if err != nil {
			if p.ctx.Err() != nil {
				return nil
			}
			err = apiError(p.ctx, "ListSecrets", "*", err)
			if errors.Is(err, providers.ErrPermission) {
				p.list = false
			}
			if p.log != nil {
				p.log.Warn("providers/aws/secretsmanager: ListSecrets failed; polling with DescribeSecret", "err", err)
			}
			for id := range seen {
				delete(seen, id)
			}
			return ids
		}
		pages++
		for _, e := range out.SecretList {
			id := aws.ToString(e.Name)
			if !want[id] {
				id = aws.ToString(e.ARN)
			}
			if !want[id] {
				continue
			}
			x := polled{state: stateOf(e.DeletedDate, e.LastChangedDate, e.SecretVersionsToStages)}
			if cur := currentOf(e.SecretVersionsToStages); cur != "" {
				x.tags = &tagEntry{version: cur, labels: tagMap(e.Tags)}
			}
			seen[id] = x
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	p.listPages = pages
	var rest []string
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			rest = append(rest, id)
		}
	}
	return rest
}
