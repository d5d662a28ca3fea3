package rotate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/strongroom/strongroom/internal/busy"
	"github.com/strongroom/strongroom/internal/fanout"
	"github.com/strongroom/strongroom/internal/leak"
	"github.com/strongroom/strongroom/internal/redact"
	"github.com/strongroom/strongroom/secrets"
)

// Rotation declares one secret to rotate.
type Rotation struct {
	// Secret is the name of the secret consumers read: declared in the
	// store, with a provider that can write (providers.Writer). Required.
	Secret string

	// PendingRef is where the pending credential is kept between its
	// creation and its promotion, so that a crash loses nothing: the
	// rotator declares it in the store as Secret+".pending". Its provider
	// must write. Required.
	PendingRef string

	// StateRef is where the rotation's state record is kept (JSON, no
	// secret material): the rotator declares it as Secret+".rotation". Its
	// provider must write conditionally (providers.ConditionalWriter), so
	// that the instances sharing it agree on who rotates. Required.
	StateRef string

	// Target is where the credential is valid. Required.
	Target Target
	// Strategy says how the target takes a new credential. Required.
	Strategy Strategy
	// Policy says when to rotate.
	Policy Policy
}

// Policy says when a secret is rotated, and how long the old credential
// stays valid.
type Policy struct {
	// Every is the period of scheduled rotations, brought forward by up to
	// Jitter of itself at random. Zero: no schedule.
	Every time.Duration
	// Jitter is the fraction of Every by which each scheduled rotation is
	// brought forward at random, so that secrets on one schedule do not
	// rotate at once. Zero: 0.1. In [0, 1).
	Jitter float64
	// MaxAge rotates a secret whose current value is older than this
	// (counted from the last rotation's end, else from the version's
	// creation at the backend, else from its load). Zero: no limit.
	MaxAge time.Duration

	// Overlap is how long the old credential stays valid after the new one
	// is promoted, for every consumer to pick the new one up (through
	// refresh or watch) before the old one is retired. Zero: one minute.
	// The current secret's Spec.Overlap should be at least as long, for
	// Rollback after promotion to find the old value.
	Overlap time.Duration
	// ReadQuiet: after the overlap, the old credential is retired only
	// once nothing in this process has used the old version for this
	// long (Metadata.PreviousLastRead). Zero: 5 s.
	ReadQuiet time.Duration
	// RetireWait bounds how much longer than the overlap retiring waits
	// for the old version to stop being read. Zero: Overlap.
	RetireWait time.Duration

	// Retry is how long after a rolled-back rotation the next attempt is
	// due (when the secret is on a schedule or past MaxAge), and the
	// longest wait between attempts of a step that failed at the backend.
	// Zero: one minute.
	Retry time.Duration

	// Lease is how long an instance may hold a rotation without writing
	// its record; an instance that stops for longer loses it to another
	// one, which resumes it. Zero: 30 s.
	Lease time.Duration

	// Generator makes each new credential, in locked memory. Zero: a
	// password of 32 letters and digits. For an alternating pair, the
	// secret's value wraps what it makes with the account's name (see
	// [SplitAccount]), so it must make printable ASCII without '"' or '\'.
	Generator secrets.Generator
}

func (p Policy) withDefaults() Policy {
	if p.Jitter == 0 {
		p.Jitter = 0.1
	}
	if p.Overlap == 0 {
		p.Overlap = time.Minute
	}
	if p.ReadQuiet == 0 {
		p.ReadQuiet = 5 * time.Second
	}
	if p.RetireWait == 0 {
		p.RetireWait = p.Overlap
	}
	if p.Retry == 0 {
		p.Retry = time.Minute
	}
	if p.Lease == 0 {
		p.Lease = 30 * time.Second
	}
	if p.Generator == nil {
		p.Generator = &secrets.RandomPassword{Length: 32, Alphabet: secrets.AlphabetAlphanumeric}
	}
	return p
}

func (p Policy) check() error {
	switch {
	case p.Every < 0, p.MaxAge < 0, p.Overlap < 0, p.ReadQuiet < 0, p.RetireWait < 0, p.Retry < 0, p.Lease < 0:
		return errors.New("a negative duration in the policy")
	case p.Jitter < 0 || p.Jitter >= 1:
		return fmt.Errorf("Policy.Jitter %v outside [0, 1)", p.Jitter)
	}
	return nil
}

// String describes the policy, for the inventory.
func (p Policy) String() string {
	s := "on demand"
	if p.Every > 0 {
		s = "every " + p.Every.String()
	}
	if p.MaxAge > 0 {
		s += ", max age " + p.MaxAge.String()
	}
	return s + ", overlap " + p.Overlap.String()
}

// Options configure a Rotator.
type Options struct {
	// Clock is the source of time; it should be the store's. Nil: the
	// wall clock.
	Clock secrets.Clock
	// Logger receives an audit record per step (secret, rotation, step,
	// outcome; never a value). Nil: slog.Default().
	Logger *slog.Logger
	// MeterProvider receives the rotation metrics. Nil: none.
	MeterProvider metric.MeterProvider
	// Instance names this process in state records. Zero: host name,
	// process id and a random suffix.
	Instance string
}

// Rotator runs the rotations of one store. Make one with [New]; Close
// stops it.
type Rotator struct {
	store    *secrets.Store
	clock    secrets.Clock
	log      *slog.Logger
	instance string
	tel      telemetry
	hub      fanout.Hub[Event]

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	rotations map[string]*rotation
	closed    bool
}

// New returns a Rotator over store.
func New(store *secrets.Store, opts *Options) (*Rotator, error) {
	if store == nil {
		return nil, errors.New("rotate: New needs a store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Clock == nil {
		o.Clock = secrets.WallClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		o.Instance = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomID(4))
	}
	tel, err := newTelemetry(o.MeterProvider)
	if err != nil {
		return nil, err
	}
	r := &Rotator{store: store, clock: o.Clock, log: o.Logger, instance: o.Instance, tel: tel, rotations: map[string]*rotation{}}
	r.hub.Buffer = 64
	r.hub.Hold = busy.Func(o.Clock)
	r.hub.Drop = func(last *Event) { last.Dropped++ }
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Add declares a rotation and starts running it: it declares the pending
// and state secrets in the store, writes a first state record when there
// is none (so that the first scheduled rotation is due one period from
// now, not at once), and from then on rotates when the policy says so or
// when asked. ctx bounds the set-up.
func (r *Rotator) Add(ctx context.Context, rot Rotation) error {
	rot.Policy = rot.Policy.withDefaults()
	switch {
	case rot.Secret == "" || rot.PendingRef == "" || rot.StateRef == "":
		return invalid(rot.Secret, "a Rotation needs Secret, PendingRef and StateRef")
	case rot.Target == nil:
		return invalid(rot.Secret, "a Rotation needs a Target")
	}
	if err := rot.Strategy.check(); err != nil {
		return invalid(rot.Secret, err.Error())
	}
	if err := rot.Policy.check(); err != nil {
		return invalid(rot.Secret, err.Error())
	}
	md, err := r.store.Metadata(rot.Secret)
	if err != nil {
		return &Error{Secret: rot.Secret, Op: "add", Err: err}
	}
	rt := &rotation{r: r, spec: rot, name: rot.Secret, pending: rot.Secret + ".pending", state: rot.Secret + ".rotation", wake: make(chan func(), 1)}
	var validate func([]byte) error
	if rot.Strategy.kind == kindAlternating {
		validate = func(v []byte) error { _, _, err := SplitAccount(v); return err }
	}
	specs := []secrets.Spec{
		{Name: rt.pending, Ref: rot.PendingRef, Kind: md.Kind, Owner: md.Owner, Classification: md.Classification, Validate: validate,
			Labels: map[string]string{"rotate.role": "pending", "rotate.secret": rot.Secret}},
		{Name: rt.state, Ref: rot.StateRef, Kind: secrets.KindGeneric, Owner: md.Owner,
			Validate: func(v []byte) error { _, err := parseRecord(v); return err },
			Labels:   map[string]string{"rotate.role": "state", "rotate.secret": rot.Secret}},
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return &Error{Secret: rot.Secret, Op: "add", Err: errClosed}
	}
	if _, dup := r.rotations[rot.Secret]; dup {
		r.mu.Unlock()
		return invalid(rot.Secret, "already added")
	}
	r.rotations[rot.Secret] = rt
	r.mu.Unlock()
	fail := func(err error) error {
		r.mu.Lock()
		delete(r.rotations, rot.Secret)
		r.mu.Unlock()
		return &Error{Secret: rot.Secret, Op: "add", Err: err}
	}
	for _, s := range specs {
		if err := r.store.Add(s); err != nil {
			return fail(err)
		}
	}
	if err := rt.init(ctx); err != nil {
		return fail(err)
	}
	cancel, err := r.store.Subscribe(rt.state, func(e secrets.Event) {
		if e.Kind == secrets.EventRotated || e.Kind == secrets.EventLoaded {
			rt.poke()
		}
	})
	if err != nil {
		return fail(err)
	}
	rt.unsubscribe = cancel
	rt.unannotate = r.store.Annotate(rot.Secret, rt.annotations)
	r.wg.Add(1)
	_, release := busy.Hold(r.clock, context.Background())
	go rt.run(release)
	return nil
}

// RotateNow starts a rotation of secret (or joins the one under way) and
// waits until it ends or ctx does. It returns nil when the new credential
// was promoted and the old one retired, and an *Error naming the failed
// step when the rotation was rolled back.
func (r *Rotator) RotateNow(ctx context.Context, secret string) error {
	return r.demand(ctx, secret, false)
}

// Emergency rotates secret at once for a compromised credential: the old
// one is retired as soon as the new one is promoted, without overlap and
// without waiting for readers. A rotation under way is switched to
// emergency. It waits as RotateNow does.
func (r *Rotator) Emergency(ctx context.Context, secret string) error {
	return r.demand(ctx, secret, true)
}

func (r *Rotator) demand(ctx context.Context, secret string, emergency bool) error {
	return r.await(ctx, secret, "rotate", &waiter{emergency: emergency, done: make(chan error, 1)})
}

// await queues w on secret's rotation, wakes it, and waits for w's answer,
// ctx or Close.
func (r *Rotator) await(ctx context.Context, secret, op string, w *waiter) error {
	rt, err := r.lookup(secret)
	if err != nil {
		return err
	}
	rt.mu.Lock()
	rt.waiters = append(rt.waiters, w)
	rt.mu.Unlock()
	rt.poke()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		rt.mu.Lock()
		rt.waiters = keepWaiters(rt.waiters, func(x *waiter) bool { return x != w })
		rt.mu.Unlock()
		return &Error{Secret: secret, Op: op, Err: ctx.Err()}
	case <-r.ctx.Done():
		return &Error{Secret: secret, Op: op, Err: errClosed}
	}
}

// Rollback rolls back the rotation of secret that has been promoted but
// whose old credential is not retired yet (consumers fail with the new
// one, say): the old value is written back as current and the target
// returned to it, and it waits for that as RotateNow does. It needs the old
// value, which the store keeps as Store.Previous within the current
// secret's Spec.Overlap: make that at least the policy's Overlap. A
// rotation not yet promoted is rolled back as if its test had failed.
func (r *Rotator) Rollback(ctx context.Context, secret string) error {
	return r.await(ctx, secret, "rollback", &waiter{rollback: true, done: make(chan error, 1)})
}

// Status is what a Rotator knows of one secret's rotation.
type Status struct {
	Secret   string
	Strategy string
	Policy   string
	Step     Step      // StepIdle when none is under way
	Rotation string    // the id of the rotation under way
	Owner    string    // the instance doing it
	Next     time.Time // when the next scheduled rotation is due
	Overdue  bool

	LastOutcome    Outcome // "" before the first
	LastStarted    time.Time
	LastDuration   time.Duration
	LastFailedStep Step
	LastFailure    string
}

// Status returns the state of secret's rotation as this instance last read
// it from the backend.
func (r *Rotator) Status(secret string) (Status, error) {
	rt, err := r.lookup(secret)
	if err != nil {
		return Status{}, err
	}
	return rt.status(r.clock.Now()), nil
}

// Subscribe calls fn with every event of every rotation, on a goroutine of
// its own, in order. cancel stops it.
func (r *Rotator) Subscribe(fn func(Event)) (cancel func()) {
	c, ok := r.hub.Subscribe(func(Event) bool { return true }, fn)
	if !ok {
		return func() {}
	}
	return c
}

// Close stops every rotation loop and waits for them. A rotation under
// way stays recorded in its state secret, for this process after a
// restart or another instance once the lease ends.
func (r *Rotator) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	rts := make([]*rotation, 0, len(r.rotations))
	for _, rt := range r.rotations {
		rts = append(rts, rt)
	}
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	for _, rt := range rts {
		rt.unsubscribe()
		rt.unannotate()
		rt.mu.Lock()
		for _, w := range rt.waiters {
			w.done <- &Error{Secret: rt.name, Op: "rotate", Err: errClosed}
		}
		rt.waiters = nil
		rt.mu.Unlock()
	}
	r.hub.Close()
	return nil
}

func (r *Rotator) lookup(secret string) (*rotation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, &Error{Secret: secret, Op: "rotate", Err: errClosed}
	}
	rt := r.rotations[secret]
	if rt == nil {
		return nil, &Error{Secret: secret, Op: "rotate", Err: errors.New("no rotation added for this secret")}
	}
	return rt, nil
}

// publish sends an event to the subscribers.
func (r *Rotator) publish(e Event) {
	e.Time = r.clock.Now()
	r.hub.Publish(e)
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// credentialID identifies a secret without revealing it.
func credentialID(secret []byte) string {
	sum := sha256.Sum256(secret)
	defer clear(sum[:])
	return hex.EncodeToString(sum[:8])
}

// jittered returns d brought forward by up to frac of itself at random.
func jittered(d time.Duration, frac float64) time.Duration {
	if frac <= 0 || d <= 0 {
		return d
	}
	span := int64(float64(d) * frac)
	if span <= 0 {
		return d
	}
	n, err := rand.Int(rand.Reader, big.NewInt(span))
	if err != nil {
		return d
	}
	return d - time.Duration(n.Int64())
}

// safeError returns err's text for a record, an event or a log, unless it
// may quote one of values (a target's error echoing a password): then only
// that it was withheld. It is cut to maxText bytes.
func safeError(err error, values ...[]byte) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if leak.Quotes(msg, values...) {
		msg = fmt.Sprintf("%T (message withheld: it may quote the credential)", err)
	}
	if len(msg) > maxText {
		msg = msg[:maxText]
	}
	return msg
}

// String describes the Rotator: the secrets it rotates.
func (r *Rotator) String() string {
	if r == nil {
		return "<nil>"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.rotations))
	for n := range r.rotations {
		names = append(names, n)
	}
	slices.Sort(names)
	return fmt.Sprintf("rotate.Rotator%q", names)
}

// Format writes String for every fmt verb (fmt would otherwise read the
// Rotator's locks while others write them).
func (r *Rotator) Format(f fmt.State, _ rune) { io.WriteString(f, r.String()) }

// String describes the rotation with its references redacted (as the
// store shows references: a credential in one is withheld).
func (rot Rotation) String() string {
	return fmt.Sprintf("rotate.Rotation{%s pending=%s state=%s %s, %s}", rot.Secret, redact.Ref(rot.PendingRef), redact.Ref(rot.StateRef), rot.Strategy, rot.Policy)
}

// GoString is String, for %#v.
func (rot Rotation) GoString() string { return rot.String() }

// Format writes String for every fmt verb.
func (rot Rotation) Format(f fmt.State, _ rune) { io.WriteString(f, rot.String()) }

// LogValue makes slog log what String shows.
func (rot Rotation) LogValue() slog.Value { return slog.StringValue(rot.String()) }

// MarshalJSON returns String as a JSON string.
func (rot Rotation) MarshalJSON() ([]byte, error) { return json.Marshal(rot.String()) }
