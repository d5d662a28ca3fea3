package kms

import (
	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/providers"
)

// DataKeyCache returns the guard of p's data-key cache (nil before its
// first entry, or when p has no cache) and the number of keys it holds.
func DataKeyCache(p providers.Provider) (*guard.Guard, int) {
	c := p.(interface{ self() *core }).self()
	if c.keys == nil {
		return nil, 0
	}
	c.keys.mu.RLock()
	defer c.keys.mu.RUnlock()
	return c.keys.g, c.keys.order.Len()
}
