package secretsmanager

import (
	"context"
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
// poller per provider calls DescribeSecret (which transfers no value) for
// every watched secret each Options.PollInterval, and signals a change
// only when the secret's VersionIdsToStages, LastChangedDate or existence
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
	if out.DeletedDate != nil {
		return "deleted", nil
	}
	var b strings.Builder
	b.WriteString(aws.ToTime(out.LastChangedDate).UTC().Format(time.RFC3339Nano))
	versions := make([]string, 0, len(out.VersionIdsToStages))
	for v, st := range out.VersionIdsToStages {
		st = slices.Clone(st)
		slices.Sort(st)
		versions = append(versions, v+"="+strings.Join(st, ","))
	}
	slices.Sort(versions)
	for _, v := range versions {
		b.WriteString(";" + v)
	}
	return b.String(), nil
}

// poll is the provider's one poller: it runs until Close.
func (p *Provider) poll() {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
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
			p.mu.Lock()
			ws := p.watched[id]
			var fire []*watch
			if ws != nil && ws.state != state {
				ws.state = state
				delete(p.tags, id) // tags may have changed too
				for _, w := range ws.watches {
					fire = append(fire, w)
				}
			}
			p.mu.Unlock()
			for _, w := range fire {
				w.fire()
			}
		}
	}
}
