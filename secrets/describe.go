package secrets

import (
	"fmt"
	"io"
	"strconv"
	"strings"
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
