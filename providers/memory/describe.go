package memory

import (
	"fmt"
	"io"
	"strconv"
)

// String describes the provider without its values: "memory.Provider{N
// values}". The fake holds plaintext; printing it never shows any.
func (p *Provider) String() string {
	if p == nil {
		return "<nil>"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "memory.Provider{closed}"
	}
	return "memory.Provider{" + strconv.Itoa(len(p.entries)) + " values}"
}

// Format prints String under every fmt verb.
func (p *Provider) Format(f fmt.State, _ rune) { io.WriteString(f, p.String()) }
