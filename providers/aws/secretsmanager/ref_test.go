package secretsmanager

import (
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

// FuzzRef checks that parseRef never panics, refuses with ErrInvalidRef
// only, and that what it accepts is a secret id of allowed characters and
// at most one of stage and version.
func FuzzRef(f *testing.F) {
	for _, s := range []string{"awssm:a", "awssm:prod/db?stage=AWSPREVIOUS#/password", "awssm:arn:aws:secretsmanager:us-east-1:1:secret:x-abc?version=v1",
		"awssm:a#/b~1c", "AWSSM:a?stage=", "awssm:a#", "awssm:a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRef(s)
		if err != nil {
			if !errors.Is(err, providers.ErrInvalidRef) || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("parseRef(%q): %v", s, err)
			}
			return
		}
		if r.id == "" || len(r.id) > 2048 || (r.stage != "" && r.version != "") {
			t.Fatalf("parseRef(%q) accepted %+v", s, r)
		}
		for i := 0; i < len(r.id); i++ {
			if !isIDChar(r.id[i]) {
				t.Fatalf("parseRef(%q): id %q has byte %#x", s, r.id, r.id[i])
			}
		}
	})
}
