package memory

import (
	"fmt"
	"io"
	"strconv"
	"time"
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

// String describes the clock: its time and how many timers are pending.
func (c *Clock) String() string {
	if c == nil {
		return "<nil>"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("memory.Clock{%s, %d timers}", c.now.Format(time.RFC3339Nano), len(c.timers))
}

// Format writes String for every fmt verb (fmt would otherwise read the
// clock's lock and timers while others write them).
func (c *Clock) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }
