package memory_test

import (
	"testing"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/providers/providertest"
)

func TestConformance(t *testing.T) {
	var p *memory.Provider // the provider of the latest Open
	providertest.Run(t, providertest.Harness{
		Open: func(t *testing.T) providers.Provider {
			p = memory.New(nil)
			return p
		},
		Ref:    func(t *testing.T, name string) string { return memory.Ref(name) },
		Set:    func(t *testing.T, name string, data []byte) { p.Set(name, data, nil) },
		Remove: func(t *testing.T, name string) { p.Remove(name) },
		InvalidRefs: []string{
			"memory:", "memory:name", "memory:/name", "memory://",
			"memory://a\x00b", "memory://a\nb", "memory://a\x7fb", "memory://\xff",
		},
		Caps: providertest.Capabilities{
			Mutable: true, Watchable: true, Versioned: true,
			Writable: true, Revocable: true, Deletable: true,
			Conditional: true,
		},
		ErrorPrefix: "providers/memory: ",
	})
}
