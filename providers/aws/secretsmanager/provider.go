package secretsmanager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/strongroom/strongroom/internal/jsonptr"
	"github.com/strongroom/strongroom/providers"
)

// Options configure a [Provider]. A nil *Options means the defaults.
type Options struct {
	// Client is the Secrets Manager client to use. Nil: one made from
	// Config.
	Client *sm.Client
	// Config is the AWS configuration to make a client from when Client
	// is nil. Nil: config.LoadDefaultConfig, the SDK's standard chain
	// (environment, shared config and credentials files, SSO, web
	// identity, IMDS).
	Config *aws.Config
	// PollInterval is how often the watcher calls DescribeSecret for
	// every watched secret. Zero: one minute.
	PollInterval time.Duration
	// RecoveryWindowDays is the recovery window Delete asks for, 7 to 30.
	// Zero: 30, the AWS default.
	RecoveryWindowDays int64
	// ForceDelete makes Delete delete at once, without a recovery window
	// (ForceDeleteWithoutRecovery): the secret cannot be restored. False:
	// Delete schedules deletion after RecoveryWindowDays.
	ForceDelete bool
	// ListSecrets makes the watcher poll with ListSecrets, which lists
	// 100 secrets (and their versions, stages and tags) per call, instead
	// of one DescribeSecret per watched secret: a poll of N watched
	// secrets costs ceil(M/100) calls for an account holding M secrets,
	// against N. The watcher lists only while that is fewer calls (it
	// counts the pages of each listing) and describes the secrets a
	// listing did not show (a partial ARN, a secret created moments ago).
	// Two costs, why it is off by default: AWS documents that ListSecrets
	// "might not reflect changes from the last five minutes", so a change
	// may be seen up to that much later than PollInterval says; and it
	// needs the secretsmanager:ListSecrets permission, which shows the
	// metadata (not the values) of every secret in the account. When AWS
	// denies the call the watcher goes back to DescribeSecret for good.
	ListSecrets bool
	// Logger receives the watcher's failed polls. Nil: silent.
	Logger *slog.Logger
}

// Provider reads and writes secrets of AWS Secrets Manager. Create one
// with [New].
type Provider struct {
	client   *sm.Client
	interval time.Duration
	window   int64
	force    bool
	log      *slog.Logger

	// Read and written by the poller only, after New.
	list      bool // poll with ListSecrets
	listPages int  // pages of the last complete listing

	closed atomic.Bool
	ctx    context.Context // cancelled by Close: bounds the poller's calls
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	watched map[string]*watched // by secret id
	tags    map[string]tagEntry // by secret id
	locks   map[string]*refLock // WriteIf serialisation, by secret id
	nextID  int
	wake    chan struct{}
	started bool
}

type tagEntry struct {
	version string
	labels  map[string]string
}

type refLock struct {
	mu    sync.Mutex
	users int
}

// New returns a provider. With opts.Client and opts.Config nil it loads
// the default AWS configuration, which honours ctx.
func New(ctx context.Context, opts *Options) (*Provider, error) {
	if opts == nil {
		opts = &Options{}
	}
	client := opts.Client
	if client == nil {
		var cfg aws.Config
		if opts.Config != nil {
			cfg = opts.Config.Copy()
		} else {
			var err error
			if cfg, err = config.LoadDefaultConfig(ctx); err != nil {
				return nil, fmt.Errorf("%sloading the AWS configuration: %s", prefix, errorKind(err))
			}
		}
		client = sm.NewFromConfig(cfg)
	}
	p := &Provider{
		client:   client,
		interval: opts.PollInterval,
		window:   opts.RecoveryWindowDays,
		force:    opts.ForceDelete,
		log:      opts.Logger,
		list:     opts.ListSecrets,
		done:     make(chan struct{}),
		watched:  map[string]*watched{},
		tags:     map[string]tagEntry{},
		locks:    map[string]*refLock{},
		wake:     make(chan struct{}, 1),
	}
	if p.interval <= 0 {
		p.interval = time.Minute
	}
	if p.window == 0 {
		p.window = 30
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// Fetch returns the value ref names: the AWSCURRENT version, or the one
// its stage or version selects, or one member of it with a fragment. The
// Value's Version is the AWS VersionId, CreatedAt its CreatedDate, Labels
// the secret's tags (read with DescribeSecret once per version seen).
func (p *Provider) Fetch(ctx context.Context, s string) (*providers.Value, error) {
	r, err := parseRef(s)
	if err != nil {
		return nil, err
	}
	if p.closed.Load() {
		return nil, fmt.Errorf("%sFetch: %w", prefix, providers.ErrClosed)
	}
	in := &sm.GetSecretValueInput{SecretId: &r.id}
	if r.stage != "" {
		in.VersionStage = &r.stage
	}
	if r.version != "" {
		in.VersionId = &r.version
	}
	out, err := p.client.GetSecretValue(ctx, in)
	if err != nil {
		return nil, apiError(ctx, "GetSecretValue", r.id, err)
	}
	data := out.SecretBinary
	if out.SecretString != nil {
		data = []byte(*out.SecretString)
	}
	v := &providers.Value{Data: data, Version: aws.ToString(out.VersionId), CreatedAt: aws.ToTime(out.CreatedDate)}
	if r.pointer != "" {
		sel, _, err := jsonptr.Select(data, r.pointer) // a fragment is never empty: never whole
		clear(data)
		if err != nil {
			return nil, fmt.Errorf("%ssecret %q, member %q: %w", prefix, r.id, r.pointer, err)
		}
		v.Data = sel
	}
	labels, err := p.labels(ctx, r.id, v.Version)
	if err != nil {
		v.Wipe()
		return nil, err
	}
	v.Labels = labels
	if p.closed.Load() {
		v.Wipe()
		return nil, fmt.Errorf("%sFetch: %w", prefix, providers.ErrClosed)
	}
	return v, nil
}

// labels returns a copy of the tags of secret id, from the cache when it
// was filled for version, else with DescribeSecret.
func (p *Provider) labels(ctx context.Context, id, version string) (map[string]string, error) {
	p.mu.Lock()
	e, ok := p.tags[id]
	p.mu.Unlock()
	if !ok || e.version != version {
		out, err := p.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &id})
		if err != nil {
			return nil, apiError(ctx, "DescribeSecret", id, err)
		}
		e = tagEntry{version: version, labels: tagMap(out.Tags)}
		p.mu.Lock()
		p.tags[id] = e
		p.mu.Unlock()
	}
	if e.labels == nil {
		return nil, nil
	}
	c := make(map[string]string, len(e.labels))
	for k, v := range e.labels {
		c[k] = v
	}
	return c, nil
}

// Write stores data as the new AWSCURRENT version of ref with
// PutSecretValue (as SecretString when data is valid UTF-8, else as
// SecretBinary), creating the secret with CreateSecret if it does not
// exist, and returns the new VersionId. ref must name the secret itself
// (no stage, version or fragment).
func (p *Provider) Write(ctx context.Context, s string, data []byte) (string, error) {
	r, err := p.writable(s, "Write")
	if err != nil {
		return "", err
	}
	for attempt := 0; ; attempt++ {
		v, err := p.put(ctx, r.id, data, "")
		if err == nil || codeOf(err) != "ResourceNotFoundException" || attempt > 0 {
			return v, wrapPut(ctx, r.id, err)
		}
		v, err = p.create(ctx, r.id, data)
		if err == nil || codeOf(err) != "ResourceExistsException" {
			return v, wrapCreate(ctx, r.id, err)
		}
		// Created concurrently by someone else: put on top of it.
	}
}

// WriteIf stores data as Write does, only if the AWSCURRENT version of
// ref is ifVersion ("" : only if the secret does not exist).
//
// The guarantee is the one AWS gives, which is not a compare-and-swap:
//
//   - ifVersion "": CreateSecret, which AWS refuses atomically when the
//     secret exists (or is scheduled for deletion): this case is atomic
//     across every process.
//   - otherwise: DescribeSecret reads the AWSCURRENT VersionId; if it is
//     ifVersion, PutSecretValue writes with a ClientRequestToken derived
//     from the secret and ifVersion (a hash of both). AWS refuses a second
//     PutSecretValue with that token and different data
//     (ResourceExistsException, reported as [providers.ErrConflict]), so
//     two WriteIf calls conditioned on the same version, in any
//     processes, never both write: exactly one wins (two with identical
//     data both succeed, with the same version). A plain Write, or any
//     other writer, between the check and the put is not detected: its
//     version is demoted to AWSPREVIOUS. Within one Provider, WriteIf
//     calls on a secret are also serialised by a lock.
//
// The emulator the tests use (kumo) overwrites a version when a token is
// reused with different data, where AWS refuses: against it only the
// in-process lock holds.
func (p *Provider) WriteIf(ctx context.Context, s string, data []byte, ifVersion string) (string, error) {
	r, err := p.writable(s, "WriteIf")
	if err != nil {
		return "", err
	}
	unlock := p.lock(r.id)
	defer unlock()
	if ifVersion == "" {
		v, err := p.create(ctx, r.id, data)
		switch codeOf(err) {
		case "ResourceExistsException", "InvalidRequestException":
			return "", fmt.Errorf("%sWriteIf %q: the secret exists: %w", prefix, r.id, providers.ErrConflict)
		}
		return v, wrapCreate(ctx, r.id, err)
	}
	cur, err := p.current(ctx, r.id)
	if err != nil {
		return "", err
	}
	if cur != ifVersion {
		return "", fmt.Errorf("%sWriteIf %q: the current version is not the one given: %w", prefix, r.id, providers.ErrConflict)
	}
	v, err := p.put(ctx, r.id, data, conditionalToken(r.id, ifVersion))
	if codeOf(err) == "ResourceExistsException" {
		return "", fmt.Errorf("%sWriteIf %q: another write conditioned on the same version won: %w", prefix, r.id, providers.ErrConflict)
	}
	return v, wrapPut(ctx, r.id, err)
}

// current returns the AWSCURRENT VersionId of secret id; a secret that
// does not exist, or is scheduled for deletion, is a conflict.
func (p *Provider) current(ctx context.Context, id string) (string, error) {
	out, err := p.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &id})
	if err != nil {
		if codeOf(err) == "ResourceNotFoundException" && ctx.Err() == nil {
			return "", fmt.Errorf("%sWriteIf %q: the secret does not exist: %w", prefix, id, providers.ErrConflict)
		}
		return "", apiError(ctx, "DescribeSecret", id, err)
	}
	if out.DeletedDate != nil {
		return "", fmt.Errorf("%sWriteIf %q: the secret is scheduled for deletion: %w", prefix, id, providers.ErrConflict)
	}
	return currentOf(out.VersionIdsToStages), nil
}

// currentOf returns the version holding AWSCURRENT, or "".
func currentOf(versions map[string][]string) string {
	for v, stages := range versions {
		if slices.Contains(stages, "AWSCURRENT") {
			return v
		}
	}
	return ""
}

// tagMap returns tags as a map, nil for none.
func tagMap(tags []types.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// conditionalToken is the ClientRequestToken of a WriteIf conditioned on
// version: the same for every process, so that AWS lets only one such
// write through. It is a hash of public identifiers, not of data.
func conditionalToken(id, version string) string {
	sum := sha256.Sum256([]byte("strongroom awssm WriteIf\x00" + id + "\x00" + version))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// lock serialises WriteIf on secret id within this provider.
func (p *Provider) lock(id string) func() {
	p.mu.Lock()
	l := p.locks[id]
	if l == nil {
		l = &refLock{}
		p.locks[id] = l
	}
	l.users++
	p.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		p.mu.Lock()
		if l.users--; l.users == 0 {
			delete(p.locks, id)
		}
		p.mu.Unlock()
	}
}

func (p *Provider) put(ctx context.Context, id string, data []byte, token string) (string, error) {
	in := &sm.PutSecretValueInput{SecretId: &id}
	setValue(&in.SecretString, &in.SecretBinary, data)
	if token != "" {
		in.ClientRequestToken = &token
	}
	out, err := p.client.PutSecretValue(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.VersionId), nil
}

func (p *Provider) create(ctx context.Context, id string, data []byte) (string, error) {
	in := &sm.CreateSecretInput{Name: &id}
	setValue(&in.SecretString, &in.SecretBinary, data)
	out, err := p.client.CreateSecret(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.VersionId), nil
}

// setValue sets a string secret for valid UTF-8, else a binary one. The
// SDK holds the copy only for the request.
func setValue(str **string, bin *[]byte, data []byte) {
	if utf8.Valid(data) && len(data) > 0 {
		s := string(data)
		*str = &s
		return
	}
	*bin = append([]byte(nil), data...)
}

func wrapPut(ctx context.Context, id string, err error) error {
	if err == nil {
		return nil
	}
	return apiError(ctx, "PutSecretValue", id, err)
}

func wrapCreate(ctx context.Context, id string, err error) error {
	if err == nil {
		return nil
	}
	return apiError(ctx, "CreateSecret", id, err)
}

// writable parses s for a method that changes the secret.
func (p *Provider) writable(s, op string) (ref, error) {
	r, err := parseRef(s)
	if err != nil {
		return ref{}, err
	}
	if p.closed.Load() {
		return ref{}, fmt.Errorf("%s%s: %w", prefix, op, providers.ErrClosed)
	}
	if !r.plain() {
		return ref{}, fmt.Errorf("%s%s %q: a stage, version or fragment cannot be written: %w", prefix, op, s, providers.ErrUnsupported)
	}
	return r, nil
}

// Delete deletes the secret ref names: with the recovery window of
// Options.RecoveryWindowDays (restorable until then with RestoreSecret),
// or at once with Options.ForceDelete. A secret already scheduled for
// deletion is reported as not found.
func (p *Provider) Delete(ctx context.Context, s string) error {
	r, err := p.writable(s, "Delete")
	if err != nil {
		return err
	}
	// AWS answers a second DeleteSecret of a scheduled secret with
	// InvalidRequestException; kumo accepts it: look first.
	d, err := p.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &r.id})
	if err != nil {
		return apiError(ctx, "DescribeSecret", r.id, err)
	}
	if d.DeletedDate != nil {
		return fmt.Errorf("%sDelete %q: already scheduled for deletion: %w", prefix, r.id, providers.ErrNotFound)
	}
	in := &sm.DeleteSecretInput{SecretId: &r.id}
	if p.force {
		in.ForceDeleteWithoutRecovery = aws.Bool(true)
	} else {
		in.RecoveryWindowInDays = &p.window
	}
	if _, err := p.client.DeleteSecret(ctx, in); err != nil {
		return apiError(ctx, "DeleteSecret", r.id, err)
	}
	p.mu.Lock()
	delete(p.tags, r.id)
	p.mu.Unlock()
	return nil
}

// Revoke makes version of ref no longer served: it removes every staging
// label from it with UpdateSecretVersionStage, moving AWSCURRENT first to
// the AWSPREVIOUS version (a version with no label is deprecated, and AWS
// deletes it eventually). Revoking the current version of a secret that
// has no previous version fails with [providers.ErrUnsupported]: AWS
// always serves some version as AWSCURRENT. The emulator the tests use
// (kumo) has no UpdateSecretVersionStage, so there Revoke fails.
func (p *Provider) Revoke(ctx context.Context, s, version string) error {
	r, err := p.writable(s, "Revoke")
	if err != nil {
		return err
	}
	d, err := p.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &r.id})
	if err != nil {
		return apiError(ctx, "DescribeSecret", r.id, err)
	}
	stages, ok := d.VersionIdsToStages[version]
	if !ok {
		return fmt.Errorf("%sRevoke %q: no such version: %w", prefix, r.id, providers.ErrNotFound)
	}
	for _, st := range stages {
		in := &sm.UpdateSecretVersionStageInput{SecretId: &r.id, VersionStage: aws.String(st), RemoveFromVersionId: &version}
		if st == "AWSCURRENT" {
			prev := ""
			for v, ss := range d.VersionIdsToStages {
				for _, x := range ss {
					if x == "AWSPREVIOUS" && v != version {
						prev = v
					}
				}
			}
			if prev == "" {
				return fmt.Errorf("%sRevoke %q: the current version has no previous version to serve instead: %w", prefix, r.id, providers.ErrUnsupported)
			}
			in.MoveToVersionId = &prev
		}
		if _, err := p.client.UpdateSecretVersionStage(ctx, in); err != nil {
			return apiError(ctx, "UpdateSecretVersionStage", r.id, err)
		}
	}
	p.mu.Lock()
	delete(p.tags, r.id)
	p.mu.Unlock()
	return nil
}

// Close stops the watcher and waits for it. It is idempotent.
func (p *Provider) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	p.cancel()
	p.mu.Lock()
	started := p.started
	ws := p.watched
	p.watched = map[string]*watched{}
	p.mu.Unlock()
	if started {
		<-p.done
	}
	for _, w := range ws {
		for _, x := range w.watches {
			x.stopAndWait()
		}
	}
	return nil
}
