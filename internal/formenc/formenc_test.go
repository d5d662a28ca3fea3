package formenc

import (
	"net/url"
	"testing"
)

// FuzzAppend: Append matches url.QueryEscape, and Len its length.
func FuzzAppend(f *testing.F) {
	f.Add([]byte("s3cr3t with spaces & symbols=+%/"))
	f.Fuzz(func(t *testing.T, v []byte) {
		got := Append(make([]byte, 0, Len(v)), v)
		if want := url.QueryEscape(string(v)); string(got) != want || len(got) != Len(v) {
			t.Fatalf("Append(%q) = %q (Len %d), want %q", v, got, Len(v), want)
		}
	})
}
