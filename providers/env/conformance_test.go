package env_test

import (
	"os"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/env"
	"github.com/strongroom/strongroom/providers/providertest"
)

// variable is the environment variable that holds the suite's secret name.
func variable(name string) string {
	return "STRONGROOM_ENVTEST_" + strings.ToUpper(name)
}

// TestConformance runs the suite on the real process environment. Set and
// Remove go through t.Setenv, so every variable is restored when its
// sub-test ends; the suite calls them only from the sub-test's goroutine and
// never uses t.Parallel, as t.Setenv requires.
func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		Open: func(t *testing.T) providers.Provider { return env.New(nil) },
		Ref:  func(t *testing.T, name string) string { return env.Ref(variable(name)) },
		Set:  func(t *testing.T, name string, data []byte) { t.Setenv(variable(name), string(data)) },
		Remove: func(t *testing.T, name string) {
			t.Setenv(variable(name), "") // registers the restore
			if err := os.Unsetenv(variable(name)); err != nil {
				t.Fatal(err)
			}
		},
		InvalidRefs: []string{
			"env:", "env://", "env:///NAME", "env:////NAME", "env://1NAME", "env://NA-ME",
			"env://NA ME", "env://NAME=x", "env://NAME/x", "env://NÄME", "env://NA\x00ME", "env:NA.ME",
		},
		Caps:        providertest.Capabilities{Mutable: true, Versioned: true},
		ErrorPrefix: "providers/env: ",
	})
}
