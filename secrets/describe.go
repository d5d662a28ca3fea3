package secrets

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/internal/redact"
)

// String describes the Store without its contents: "secrets.Store{N
// secrets}" ("closed" once closed). A Store holds sealed values; printing
// it never shows them, nor its internals, which change under its
// goroutines.
func (s *Store) String() string {
	if s == nil {
		return "<nil>"
	}
	if s.closed.Load() {
		return "secrets.Store{closed}"
	}
	n := 0
	s.entries.Range(func(_, _ any) bool { n++; return true })
	return "secrets.Store{" + strconv.Itoa(n) + " secrets}"
}

// Format prints String under every fmt verb.
func (s *Store) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// String describes the View: its consumer and patterns, never a value.
func (v *View) String() string {
	if v == nil {
		return "<nil>"
	}
	return "secrets.View{" + v.consumer + ": " + strings.Join(v.patterns, " ") + "}"
}

// Format prints String under every fmt verb.
func (v *View) Format(f fmt.State, _ rune) { io.WriteString(f, v.String()) }

// String describes the Spec with its reference redacted (a credential in
// the reference's user information, or in a parameter whose name suggests
// one, is replaced by "xxxxx", as in Metadata.Ref): its name, reference,
// kind and owner.
func (s Spec) String() string {
	var b strings.Builder
	b.WriteString("secrets.Spec{" + s.Name)
	if s.Ref != "" {
		b.WriteString(" " + redact.Ref(s.Ref))
	}
	b.WriteString(" " + s.Kind.String())
	if s.Owner != "" {
		b.WriteString(" owner=" + s.Owner)
	}
	b.WriteString("}")
	return b.String()
}

// Format prints String under every fmt verb, so that no verb shows the
// reference unredacted.
func (s Spec) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// LogValue is the Spec for log/slog: its name, redacted reference, kind
// and owner.
func (s Spec) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.String("ref", redact.Ref(s.Ref)),
		slog.String("kind", s.Kind.String()), slog.String("owner", s.Owner))
}
