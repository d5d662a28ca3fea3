package secrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"

	"github.com/strongroom/strongroom/providers"
)

// Generator makes a new secret value. [Store.Create] calls it with a
// buffer in locked scratch memory and crypto/rand, so the value never
// passes through a Go string or the ordinary heap before it is sealed.
type Generator interface {
	// Size returns the length in bytes of the value Generate writes.
	Size() int
	// Generate fills dst, of length Size(), using randomness from r. It
	// must not keep dst.
	Generate(dst []byte, r io.Reader) error
}

// Alphabets for [RandomPassword].
const (
	// AlphabetAlphanumeric: ASCII letters and digits (62 symbols).
	AlphabetAlphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// AlphabetURLSafe: letters, digits and "-._~", the characters a URL,
	// a connection string or a shell leaves alone (66 symbols).
	AlphabetURLSafe = AlphabetAlphanumeric + "-._~"
)

// minPasswordBits is the least entropy a generated password may carry.
const minPasswordBits = 64

// RandomPassword generates a random password: each character drawn uniformly
// (by rejection sampling, without modulo bias) from Alphabet. Its entropy
// is Length × log2(len(Alphabet)) bits, and must be at least 64.
type RandomPassword struct {
	// Length in characters. Zero: 32.
	Length int
	// Alphabet of distinct printable ASCII characters (no space), 2 to
	// 94 of them. Zero: AlphabetURLSafe.
	Alphabet string
}

// Size returns the password's length.
func (p *RandomPassword) Size() int {
	if p.Length == 0 {
		return 32
	}
	return p.Length
}

// Generate fills dst with the password.
func (p *RandomPassword) Generate(dst []byte, r io.Reader) error {
	alpha := p.Alphabet
	if alpha == "" {
		alpha = AlphabetURLSafe
	}
	if err := checkAlphabet(alpha); err != nil {
		return err
	}
	if bits := float64(len(dst)) * math.Log2(float64(len(alpha))); bits < minPasswordBits {
		return fmt.Errorf("password of %d characters from %d symbols carries %.0f bits of entropy, below %d",
			len(dst), len(alpha), bits, minPasswordBits)
	}
	// Bytes at or above limit would make some characters likelier.
	limit := 256 - 256%len(alpha)
	filled := 0
	for filled < len(dst) {
		chunk := dst[filled:]
		if _, err := io.ReadFull(r, chunk); err != nil {
			clear(dst)
			return fmt.Errorf("reading randomness: %w", err)
		}
		// Writes never overtake reads: position filled <= position of b.
		for _, b := range chunk {
			if int(b) < limit {
				dst[filled] = alpha[int(b)%len(alpha)]
				filled++
			}
		}
	}
	return nil
}

func checkAlphabet(a string) error {
	if len(a) < 2 || len(a) > 94 {
		return fmt.Errorf("alphabet must have 2 to 94 characters, not %d", len(a))
	}
	var seen [256]bool
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("alphabet character at byte %d is not printable ASCII", i)
		}
		if seen[c] {
			return fmt.Errorf("alphabet repeats %q, which would bias the draw", c)
		}
		seen[c] = true
	}
	return nil
}

// RandomKey generates Bytes random bytes, for symmetric keys and HMAC secrets.
type RandomKey struct {
	// Bytes is the key length, at least 16 (128 bits). Zero: 32.
	Bytes int
}

// minKeyBytes is the shortest key RandomKey generates.
const minKeyBytes = 16

// Size returns the key length.
func (k *RandomKey) Size() int {
	if k.Bytes == 0 {
		return 32
	}
	return k.Bytes
}

// Generate fills dst with random bytes.
func (k *RandomKey) Generate(dst []byte, r io.Reader) error {
	if len(dst) < minKeyBytes {
		return fmt.Errorf("key of %d bytes is shorter than %d", len(dst), minKeyBytes)
	}
	if _, err := io.ReadFull(r, dst); err != nil {
		clear(dst)
		return fmt.Errorf("reading randomness: %w", err)
	}
	return nil
}

// maxGenerated bounds Generator.Size.
const maxGenerated = 1 << 20

// Create generates a new secret with gen and declares it under spec. The
// value is made in locked scratch memory from crypto/rand, vetted by
// spec.Validate, and sealed; with spec.Ref set it is also written to the
// backend (its provider must implement providers.Writer, else
// ErrUnsupported), which keeps it as it keeps any value. With an empty
// spec.Ref the secret lives only in this process and is never refreshed.
// While Create runs, Get of the name waits for it. Create returns the new
// version's handle; it fails with ErrExists when the name is taken (a
// revoked or deleted name may be reused), ErrInvalid when gen fails or the
// value is rejected, and ErrClosed after Close.
func (s *Store) Create(ctx context.Context, spec Spec, gen Generator) (*Secret, error) {
	spec, p, err := spec.normalize(false, s.providers)
	if err != nil {
		return nil, err
	}
	var w providers.Writer
	if p != nil {
		var ok bool
		if w, ok = p.(providers.Writer); !ok {
			return nil, newError("create", spec.Name, ErrUnsupported, fmt.Errorf("provider %q cannot write", providers.Scheme(spec.Ref)))
		}
	}
	n := gen.Size()
	if n <= 0 || n > maxGenerated {
		return nil, newError("create", spec.Name, ErrInvalid, fmt.Errorf("generator size %d outside 1 to %d bytes", n, maxGenerated))
	}
	// Reserve the name with a fetch "under way" that readers wait for, so
	// that no reader fetches from the backend before the value is written,
	// and no second Create writes it too.
	e := newEntry(s, spec, p)
	f := &flight{done: make(chan struct{}), cancel: func() {}}
	e.flight = f
	if err := s.insert(e, true); err != nil {
		return nil, err
	}
	defer s.bg.Done()
	sec, err := s.generate(ctx, "create", e, writeWith(w), gen, n)
	if err == nil {
		err = e.install(sec, s.clock.Now(), nil)
	}
	e.mu.Lock()
	f.err = err
	e.flight = nil
	e.reschedule()
	e.settle()
	e.mu.Unlock()
	close(f.done)
	if err != nil {
		s.entries.CompareAndDelete(spec.Name, e)
		return nil, err
	}
	e.watch()
	return sec, nil
}

// generate makes e's first value with gen, then writes, vets and seals
// it.
func (s *Store) generate(ctx context.Context, op string, e *entry, write writeFunc, gen Generator, n int) (*Secret, error) {
	var sec *Secret
	err := s.guard.Scratch(n, func(buf []byte) error {
		if err := gen.Generate(buf, rand.Reader); err != nil {
			return newError(op, e.name, ErrInvalid, e.scrub(err, buf))
		}
		var err error
		sec, err = e.put(ctx, op, write, buf)
		return err
	})
	if err != nil {
		if _, ok := err.(*Error); !ok {
			err = classify(op, e.name, err)
		}
		return nil, err
	}
	return sec, nil
}

// Regenerate makes a new value for the declared secret called name with
// gen, as Create makes a first one (in locked scratch memory, vetted by the
// spec, sealed), writes it to the backend as Write does, and makes it
// current. Its provider must implement providers.Writer. It is how a
// program replaces a secret it generates (package rotate makes each
// pending credential so). It fails as Write does, and with ErrInvalid
// when gen fails.
func (s *Store) Regenerate(ctx context.Context, name string, gen Generator) (*Secret, error) {
	const op = "regenerate"
	n := gen.Size()
	if n <= 0 || n > maxGenerated {
		return nil, newError(op, name, ErrInvalid, fmt.Errorf("generator size %d outside 1 to %d bytes", n, maxGenerated))
	}
	e, write, err := s.writer(op, name, func(w providers.Writer) (writeFunc, error) { return w.Write, nil })
	if err != nil {
		return nil, err
	}
	if err := s.enter(op, name); err != nil {
		return nil, err
	}
	defer s.bg.Done()
	sec, err := s.generate(ctx, op, e, write, gen, n)
	if err != nil {
		return nil, err
	}
	return e.installWritten(sec)
}

// put vets value, writes it to e's backend through w (when w is not nil)
// and seals it, returning the new version's handle, not yet in service.
// It is the one path of every writer (Create, Write), so that a backend's
// error about a value is always scrubbed before it is returned.
func (e *entry) put(ctx context.Context, op string, write writeFunc, value []byte) (*Secret, error) {
	v := providers.Value{Data: value}
	details, verr := e.vet(&v, e.s.clock.Now())
	if verr != nil {
		return nil, verr
	}
	if write != nil {
		var err error
		if v.Version, err = write(ctx, e.ref, value); err != nil {
			return nil, e.wrap(op, err, value) // a backend's error may quote what it was given
		}
	} else {
		v.Version = randomVersion()
	}
	sec, serr := e.seal(&v, e.s.clock.Now(), details)
	if serr != nil {
		return nil, serr
	}
	return sec, nil
}

// writeFunc writes a value to a backend and returns its version: a
// provider's Write, or a WriteIf bound to a version.
type writeFunc func(ctx context.Context, ref string, value []byte) (string, error)

// writeWith is w's Write, or nil for no writer.
func writeWith(w providers.Writer) writeFunc {
	if w == nil {
		return nil
	}
	return w.Write
}

func randomVersion() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
