package ssm

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/strongroom/strongroom/internal/jsonptr"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awserr"
)

// Options configure a [Provider]. A nil *Options means the defaults.
type Options struct {
	// Client is the Parameter Store (SSM) client to use. Nil: one made
	// from Config.
	Client *ssm.Client
	// Config is the AWS configuration to make a client from when Client
	// is nil. Nil: config.LoadDefaultConfig, the SDK's standard chain
	// (environment, shared config and credentials files, SSO, web
	// identity, IMDS). Either way the SDK's retryer retries throttling
	// and 5xx answers.
	Config *aws.Config
	// PollInterval is how often the watcher calls DescribeParameters for
	// the watched parameters. Zero: one minute.
	PollInterval time.Duration
	// KeyID is the KMS key (id, ARN or alias) that Write encrypts a new
	// parameter with. Empty: the account's default key for Parameter
	// Store, alias/aws/ssm. An overwrite keeps the parameter's own key.
	KeyID string
	// Tier is the tier Write asks for (Standard: values up to 4 KB;
	// Advanced: 8 KB, charged; Intelligent-Tiering: Advanced only when
	// needed). Empty: a new parameter gets the account's default tier
	// (Standard unless changed), and an overwrite keeps an Advanced
	// parameter Advanced.
	Tier types.ParameterTier
	// Logger receives the watcher's failed polls and tags that could
	// not be read. Nil: silent.
	Logger *slog.Logger
}

// Provider reads and writes parameters of AWS Systems Manager Parameter
// Store. Create one with [New].
type Provider struct {
	client   *ssm.Client
	interval time.Duration
	keyID    string
	tier     types.ParameterTier
	log      *slog.Logger
	onPoll   func() // for tests: called after each poll, on the poller

	closed atomic.Bool
	done   chan struct{} // closed when the poller returns

	mu      sync.Mutex
	watched map[string]*watched // by key
	tags    map[string]tagEntry // by key
	stop    context.CancelFunc  // ends the poller; nil until it starts
}

// tagEntry is the tags of a parameter as read after its version modified
// at modified.
type tagEntry struct {
	modified time.Time
	labels   map[string]string
}

// New returns a provider. With opts.Client and opts.Config nil it loads
// the default AWS configuration, which honours ctx.
func New(ctx context.Context, opts *Options) (*Provider, error) {
	if opts == nil {
		opts = &Options{}
	}
	client := opts.Client
	if client == nil {
		cfg, err := loadConfig(ctx, opts.Config)
		if err != nil {
			return nil, err
		}
		client = ssm.NewFromConfig(cfg)
	}
	p := &Provider{
		client:   client,
		interval: opts.PollInterval,
		keyID:    opts.KeyID,
		tier:     opts.Tier,
		log:      opts.Logger,
		done:     make(chan struct{}),
		watched:  map[string]*watched{},
		tags:     map[string]tagEntry{},
	}
	if p.interval <= 0 {
		p.interval = time.Minute
	}
	return p, nil
}

// loadConfig returns a copy of cfg, or the default configuration when cfg
// is nil.
func loadConfig(ctx context.Context, cfg *aws.Config) (aws.Config, error) {
	if cfg != nil {
		return cfg.Copy(), nil
	}
	c, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%sloading the AWS configuration: %s", prefix, awserr.Kind(err))
	}
	return c, nil
}

// versionOf is the Version of a Value: the parameter's version number and
// the time that version was made, "3@2024-05-01T10:00:00.123Z". The number
// alone would repeat: a parameter deleted and created again starts at 1
// again, and a store holding version 1 of the old one would take the new
// one for unchanged. AWS keeps the time to the millisecond.
func versionOf(n int64, modified *time.Time) string {
	return strconv.FormatInt(n, 10) + "@" + aws.ToTime(modified).UTC().Format("2006-01-02T15:04:05.000Z")
}

// Fetch returns the value ref names: the current version of the
// parameter, or the one its version or label selects, or one member of it
// with a fragment, decrypted when it is a SecureString. A StringList is
// served as AWS holds it, the items separated by commas. The Value's
// Version is the version number and its time (see the package
// documentation), CreatedAt the version's LastModifiedDate, Labels the
// parameter's tags (read with ListTagsForResource once per version seen).
func (p *Provider) Fetch(ctx context.Context, s string) (*providers.Value, error) {
	r, err := p.parse(s, "Fetch")
	if err != nil {
		return nil, err
	}
	name := r.selector()
	out, err := p.client.GetParameter(ctx, &ssm.GetParameterInput{Name: &name, WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, apiError(ctx, "GetParameter", name, err)
	}
	par := out.Parameter
	if par == nil || par.Value == nil {
		return nil, fmt.Errorf("%sGetParameter %q: the answer holds no value: %w", prefix, name, providers.ErrInvalid)
	}
	// The SDK holds the value as a string, which cannot be wiped; this
	// copy can.
	v := &providers.Value{
		Data:      []byte(*par.Value),
		Version:   versionOf(par.Version, par.LastModifiedDate),
		CreatedAt: aws.ToTime(par.LastModifiedDate),
	}
	if r.pointer != "" {
		sel, _, err := jsonptr.Select(v.Data, r.pointer) // a fragment is never empty: never whole
		v.Wipe()
		if err != nil {
			return nil, fmt.Errorf("%sparameter %q, member %q: %w", prefix, r.name, r.pointer, err)
		}
		v.Data = sel
	}
	if v.Labels, err = p.labels(ctx, r.name, v.CreatedAt); err != nil {
		v.Wipe()
		return nil, err
	}
	if p.closed.Load() {
		v.Wipe()
		return nil, closedError("Fetch")
	}
	return v, nil
}

// labels returns a copy of the tags of parameter name: from the cache
// unless the version fetched, modified at modified, is newer than the one
// the cache was filled for; else with ListTagsForResource. A caller
// refused ListTagsForResource gets no labels, and the refusal is logged:
// tags are metadata, and a role allowed to read a parameter's value is
// often not allowed to list its tags.
func (p *Provider) labels(ctx context.Context, name string, modified time.Time) (map[string]string, error) {
	k := key(name)
	p.mu.Lock()
	e, ok := p.tags[k]
	p.mu.Unlock()
	if ok && !modified.After(e.modified) {
		return maps.Clone(e.labels), nil
	}
	out, err := p.client.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{
		ResourceType: types.ResourceTypeForTaggingParameter, ResourceId: &name})
	e = tagEntry{modified: modified}
	switch {
	case err == nil:
		for _, t := range out.TagList {
			if e.labels == nil {
				e.labels = make(map[string]string, len(out.TagList))
			}
			e.labels[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	case ctx.Err() == nil && awserr.Permission(awserr.Code(err)) != nil:
		if p.log != nil {
			p.log.Warn(prefix+"tags not readable; serving the parameter without labels",
				"parameter", name, "err", apiError(ctx, "ListTagsForResource", name, err))
		}
	default:
		return nil, apiError(ctx, "ListTagsForResource", name, err)
	}
	p.mu.Lock()
	if cur, ok := p.tags[k]; !ok || !cur.modified.After(e.modified) {
		p.tags[k] = e
	}
	p.mu.Unlock()
	return maps.Clone(e.labels), nil
}

// forget drops what the provider knows of the tags of the parameter filed
// under k.
func (p *Provider) forget(k string) {
	p.mu.Lock()
	delete(p.tags, k)
	p.mu.Unlock()
}

// parse parses s for method op, and refuses every call after Close.
func (p *Provider) parse(s, op string) (ref, error) {
	r, err := parseRef(s)
	if err == nil && p.closed.Load() {
		err = closedError(op)
	}
	return r, err
}

// writable is parse for a method that changes the parameter, which a
// version, label or fragment cannot name.
func (p *Provider) writable(s, op string) (ref, error) {
	r, err := p.parse(s, op)
	if err == nil && !r.plain() {
		err = fmt.Errorf("%s%s %q: a version, label or fragment cannot be written: %w", prefix, op, s, providers.ErrUnsupported)
	}
	return r, err
}

func closedError(op string) error { return fmt.Errorf("%s%s: %w", prefix, op, providers.ErrClosed) }

// Delete deletes the parameter ref names with DeleteParameter, every
// version and label of it at once: Parameter Store has no recovery
// window, so a deleted parameter cannot be restored.
func (p *Provider) Delete(ctx context.Context, s string) error {
	r, err := p.writable(s, "Delete")
	if err != nil {
		return err
	}
	if _, err := p.client.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: &r.name}); err != nil {
		return apiError(ctx, "DeleteParameter", r.name, err)
	}
	p.forget(key(r.name))
	return nil
}

// Close stops the watcher and waits for it; no watch is signalled once it
// returns. It is idempotent.
func (p *Provider) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	p.mu.Lock()
	stop := p.stop
	ws := p.watched
	p.watched = map[string]*watched{}
	p.mu.Unlock()
	if stop != nil {
		stop()
		<-p.done
	}
	for _, w := range ws {
		for s := range w.subs {
			s.end()
		}
	}
	return nil
}
