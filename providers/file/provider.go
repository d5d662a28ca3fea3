package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/strongroom/strongroom/internal/vhash"
	"github.com/strongroom/strongroom/providers"
)

// DefaultMaxSize is the largest file, in bytes, that a [Provider] reads
// when [Options].MaxSize is zero: 1 MiB.
const DefaultMaxSize = 1 << 20

// DefaultPollInterval is how often a [Provider] polls watched files when
// [Options].PollInterval is zero.
const DefaultPollInterval = 5 * time.Second

// Options configure a [Provider]. A nil *Options is the same as a zero one.
type Options struct {
	// Root, when set, is the directory that every reference must stay
	// inside, and the one that relative references ("file:db/password")
	// are resolved against. A path that leaves it by "..", by being
	// absolute elsewhere or through a symbolic link is refused with
	// [providers.ErrInvalidRef]; symbolic links that stay inside it (as in
	// a Kubernetes secret volume) are followed. The directory is opened
	// by [New] and held open until Close.
	//
	// Zero: no confinement; only absolute references are accepted.
	Root string

	// MaxSize is the largest file, in bytes, that Fetch reads; a larger
	// one is refused with [providers.ErrInvalid].
	//
	// Zero or negative: [DefaultMaxSize].
	MaxSize int64

	// PollInterval is how often the watched files are checked (by device,
	// inode, size and modification time), as a fallback for file system
	// events that are lost or never sent (network file systems, a watched
	// directory that is removed and created again).
	//
	// Zero: [DefaultPollInterval]. Negative: no polling; changes are seen
	// through file system events only.
	PollInterval time.Duration

	// Settle is how long a file must stay unchanged (same size,
	// modification time and inode) before it is read: a writer that
	// truncates a file and then writes it, pausing in between, is not
	// seen half-way. Fetch waits until the file it reads has settled,
	// and a watch signals a change only once the file has settled. The
	// modification time counts: a file last modified longer ago than
	// Settle is read at once; one just written, by a rename too, is read
	// Settle after it was written. A file that keeps changing is read once
	// it settles; Fetch gives up when its context ends, or after 100
	// settle periods (and at least 10 s), with an error wrapping
	// [providers.ErrInvalid] that names the file.
	//
	// Settle protects a reader only from pauses shorter than itself; a
	// writer that must never expose a partial value writes by rename (see
	// the package documentation).
	//
	// Zero: [DefaultSettle]. Negative: no settling; a file is read as
	// soon as a change is seen.
	Settle time.Duration

	// Logger receives warnings: a secret file readable or writable by
	// group or others (once per path), and file system watch errors. It
	// never receives file content.
	//
	// Nil: nothing is logged.
	Logger *slog.Logger
}

// Provider reads secrets from files. It implements [providers.Provider],
// [providers.Watcher], [providers.Writer], [providers.ConditionalWriter]
// and [providers.Deleter]. Create one with [New].
//
// [Provider.WriteIf] is a compare-and-swap that holds across processes
// sharing a directory on one machine: Write, WriteIf and Delete of a file
// each hold an exclusive lock on the lock file ".NAME.lock" beside it. A
// version is a keyed hash of the content under this Provider's own key,
// so WriteIf compares the file's current content with the content of the
// version this Provider reported.
type Provider struct {
	fs       fileSystem
	root     *os.Root // nil without Options.Root
	rootDir  string   // absolute and clean; "" without Options.Root
	rootReal string   // rootDir with its symbolic links resolved
	escaped  error    // what root returns for a path that leaves it
	maxSize  int64
	poll     time.Duration
	settle   time.Duration // <= 0: none
	seen     sync.Map      // path -> seenState: the last state each file was seen in (see observe)
	log      *slog.Logger
	hasher   *vhash.Hasher

	mu     sync.Mutex
	closed bool
	hub    *hub            // started by the first Watch
	warned map[string]bool // paths whose permissive mode was logged
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Watcher  = (*Provider)(nil)
	_ providers.Writer   = (*Provider)(nil)
	_ providers.Deleter  = (*Provider)(nil)

	_ providers.ConditionalWriter = (*Provider)(nil)
)

// New returns a Provider configured by opts (nil for defaults). It fails
// when opts.Root is set and cannot be opened as a directory.
func New(opts *Options) (*Provider, error) {
	if opts == nil {
		opts = &Options{}
	}
	p := &Provider{
		fs:      hostFS{},
		maxSize: opts.MaxSize,
		poll:    opts.PollInterval,
		settle:  opts.Settle,
		log:     opts.Logger,
		hasher:  vhash.New(),
		warned:  make(map[string]bool),
	}
	switch {
	case p.maxSize <= 0:
		p.maxSize = DefaultMaxSize
	case p.maxSize == math.MaxInt64:
		p.maxSize-- // readAll needs room for one byte more
	}
	if p.poll == 0 {
		p.poll = DefaultPollInterval
	}
	if p.settle == 0 {
		p.settle = DefaultSettle
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if opts.Root != "" {
		dir, err := filepath.Abs(opts.Root)
		if err != nil {
			return nil, fmt.Errorf("providers/file: root %s: %w", opts.Root, err)
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, p.fsError("open root", dir, err)
		}
		p.fs, p.root, p.rootDir = root, root, dir
		if p.rootReal, err = filepath.EvalSymlinks(dir); err != nil {
			p.rootReal = dir
		}
		// os.Root does not export the error it gives for a path that
		// leaves it; ask for one to recognise it later.
		_, err = root.Lstat("..")
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			p.escaped = pathErr.Err
		}
	}
	return p, nil
}

// Fetch reads the file that ref names and returns the part it selects.
// Value.Version is a keyed hash of Data, Value.CreatedAt the file's
// modification time. Fetch waits for a file changed less than
// [Options].Settle ago to settle before reading it (see there), and reads
// again a file that changes while it is read. A missing file (or JSON member, dotenv variable or
// PEM block) gives an error wrapping [providers.ErrNotFound]; a file that
// does not parse or is too large, [providers.ErrInvalid].
func (p *Provider) Fetch(ctx context.Context, ref string) (*providers.Value, error) {
	r, loc, err := p.prepare(ctx, "fetch", ref)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		buf, info, err := p.readSettled(ctx, loc)
		if err != nil {
			return nil, err
		}
		p.warnMode(loc.path, info.Mode())
		out, whole, err := extract(buf, r)
		if err != nil || !whole {
			clear(buf)
		}
		if err == nil {
			if whole {
				out = buf
			}
			return &providers.Value{Data: out, Version: p.hasher.Version(out), CreatedAt: info.ModTime()}, nil
		}
		if attempt == readAttempts || !errors.Is(err, providers.ErrInvalid) || !p.rewritten(ctx, loc, info, attempt) {
			return nil, fmt.Errorf("providers/file: %s: %w", loc.selection(r), err)
		}
	}
}

// rewritten reports whether the file at loc, last modified recently,
// changes within a short wait. A file that does not parse is then more
// likely a rewrite in place met half-way (truncated, not yet written) than
// a broken file, and is worth reading again.
func (p *Provider) rewritten(ctx context.Context, loc location, info fs.FileInfo, attempt int) bool {
	if time.Since(info.ModTime()) > time.Second {
		return false
	}
	if pause(ctx, time.Duration(attempt)*5*time.Millisecond) != nil {
		return false
	}
	return p.signature(loc) != signatureOf(info)
}

// Close stops every watch and the goroutines behind them, waiting for them,
// and closes Options.Root. Later calls return nil; other methods return an
// error wrapping [providers.ErrClosed].
func (p *Provider) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	h := p.hub
	p.mu.Unlock()
	if h != nil {
		h.close()
	}
	if p.root != nil {
		return p.root.Close()
	}
	return nil
}

func (p *Provider) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// extract validates buf as a file of r's format and returns the part that r
// selects, in a new buffer, or reports whole when the part is the whole of
// buf. It does not modify buf.
func extract(buf []byte, r fileRef) (out []byte, whole bool, err error) {
	switch r.format {
	case formatJSON:
		return extractJSON(buf, r.part)
	case formatDotenv:
		return extractDotenv(buf, r.part)
	case formatPEM:
		return extractPEM(buf, r.part)
	}
	return nil, true, nil
}

// location is where a reference points.
type location struct {
	name string // what p.fs takes: relative to the root, or absolute
	path string // absolute, for file system events and messages
}

// selection names the part of the file at loc that r selects, for
// messages: the path, and the fragment of the reference if it has one.
// Both come from the reference, never from the file.
func (loc location) selection(r fileRef) string {
	if r.part == "" {
		return loc.path
	}
	return loc.path + "#" + r.part
}

// prepare checks that the provider is open and ctx alive, and resolves ref.
func (p *Provider) prepare(ctx context.Context, op, ref string) (fileRef, location, error) {
	if p.isClosed() {
		return fileRef{}, location{}, fmt.Errorf("providers/file: %s: %w", op, providers.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fileRef{}, location{}, fmt.Errorf("providers/file: %s %q: %w", op, ref, err)
	}
	r, loc, err := p.resolve(ref)
	if err == nil && p.root != nil {
		// A symbolic link may lead outside the root; refuse that here, so
		// that Write and Delete (which do not follow the link) refuse what
		// Fetch refuses.
		if _, serr := p.root.Stat(loc.name); serr != nil && p.escaped != nil && errors.Is(serr, p.escaped) {
			err = p.fsError(op, loc.path, serr)
		}
	}
	return r, loc, err
}

// resolve parses ref and places it on the file system.
func (p *Provider) resolve(ref string) (fileRef, location, error) {
	r, err := parseRef(ref)
	if err != nil {
		return r, location{}, err
	}
	if p.root == nil {
		if !r.abs {
			return r, location{}, refError(ref, "is relative and the provider has no Options.Root")
		}
		return r, location{name: r.path, path: r.path}, nil
	}
	name := r.path
	if r.abs {
		rel, err := filepath.Rel(p.rootDir, r.path)
		if err != nil || !filepath.IsLocal(rel) {
			return r, location{}, refError(ref, "is outside Options.Root")
		}
		name = rel
	}
	return r, location{name: name, path: filepath.Join(p.rootDir, name)}, nil
}

// fsError wraps err from operation op on path around the sentinel that
// classifies it. The path is in the message already, so a *fs.PathError is
// reduced to its cause.
func (p *Provider) fsError(op, path string, err error) error {
	var sentinel error
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		sentinel = providers.ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		sentinel = providers.ErrPermission
	case p.escaped != nil && errors.Is(err, p.escaped), errors.Is(err, syscall.ELOOP):
		sentinel = providers.ErrInvalidRef
	case errors.Is(err, fs.ErrClosed) && p.isClosed():
		sentinel = providers.ErrClosed
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		err = pathErr.Err
	}
	if sentinel == nil {
		return fmt.Errorf("providers/file: %s %s: %w", op, path, err)
	}
	return fmt.Errorf("providers/file: %s %s: %w: %w", op, path, sentinel, err)
}

// warnMode logs, once per path, that a secret file is open to group or
// others.
func (p *Provider) warnMode(path string, mode fs.FileMode) {
	if !exposed(mode) {
		return
	}
	p.mu.Lock()
	seen := p.warned[path]
	p.warned[path] = true
	p.mu.Unlock()
	if !seen {
		p.log.Warn("providers/file: secret file is readable or writable by group or others",
			slog.String("path", path), slog.String("mode", mode.Perm().String()))
	}
}

// String describes the provider: its root directory, if it has one.
func (p *Provider) String() string {
	if p == nil {
		return "<nil>"
	}
	if p.rootDir == "" {
		return "file.Provider"
	}
	return "file.Provider{root " + p.rootDir + "}"
}

// Format writes String for every fmt verb (fmt would otherwise read the
// provider's locks while others write them).
func (p *Provider) Format(f fmt.State, _ rune) { io.WriteString(f, p.String()) }
