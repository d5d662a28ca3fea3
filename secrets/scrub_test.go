package secrets

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/providers"
)

// TestScrubRefParts: a provider's error that quotes a credential of the
// reference other than by quoting the reference (decoded, or alone) shows
// it replaced, and keeps its classification.
func TestScrubRefParts(t *testing.T) {
	ref := "memory://db?token=s3cr%2Ft-value&region=eu"
	for _, quoted := range []string{ref, "s3cr/t-value", "s3cr%2Ft-value"} {
		err := scrubRef(fmt.Errorf("backend refused %s: %w", quoted, providers.ErrNotFound), ref)
		if msg := err.Error(); strings.Contains(msg, "s3cr") || !strings.Contains(msg, "backend refused") {
			t.Errorf("quoting %q: %q", quoted, msg)
		}
		if !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("quoting %q: the classification was lost: %v", quoted, err)
		}
		for _, e := range redacttest.Chain(err) {
			if strings.Contains(e.Error(), "s3cr") {
				t.Errorf("quoting %q: the chain holds %q", quoted, e.Error())
			}
		}
	}
	plain := errors.New("backend refused memory://db?region=eu")
	if got := scrubRef(plain, "memory://db?region=eu"); got != plain {
		t.Errorf("an error quoting a reference without credentials was replaced: %v", got)
	}
}
