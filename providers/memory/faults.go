package memory

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// script is a scripted fault: an error (Fail) or bad data (Corrupt).
type script struct {
	err   error
	data  []byte
	id    int // Corrupt: makes the version of each corrupt value unique
	times int // uses left; < 0: until healed
}

// Fail makes the next times fetches of name fail with an error wrapping err
// (a generic error when err is nil); with times < 0 they fail until
// [Provider.Heal], and times == 0 cancels the script. Name "" scripts an
// outage: it applies to every name that has no script of its own. A fetch
// that fails this way does not consume a [Provider.Corrupt] script.
func (p *Provider) Fail(name string, err error, times int) {
	if err == nil {
		err = errors.New("scripted failure")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if times == 0 {
		delete(p.fails, name)
		return
	}
	p.fails[name] = &script{err: err, times: times}
}

// Corrupt makes the next times fetches of name that would return a value
// return a copy of data instead, with a version that no real value has;
// then the real value comes back. With times < 0 it lasts until
// [Provider.Heal], and times == 0 cancels the script. Name "" applies to
// every name that has no script of its own. Corrupt copies data.
func (p *Provider) Corrupt(name string, data []byte, times int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.healCorruptionLocked(name)
	if times == 0 || p.closed { // Close wiped the scripts; keep no new copy
		return
	}
	p.corruptID++
	p.corrupts[name] = &script{data: bytes.Clone(data), times: times, id: p.corruptID}
}

// Heal cancels the failure and the corruption scripted for name; Heal("")
// cancels those scripted for every name (the outage), not those of single
// names. Latency stays; see [Provider.SetLatency].
func (p *Provider) Heal(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.fails, name)
	p.healCorruptionLocked(name)
}

// SetLatency makes each fetch of name wait d on the provider's clock before
// it answers; on a virtual [Clock] the fetch returns once the test has
// advanced the clock by d (see [Clock.Timers]), or its context ends. Name ""
// sets the latency of every name that has none of its own; d <= 0 removes
// the latency of name.
func (p *Provider) SetLatency(name string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d <= 0 {
		delete(p.latency, name)
		return
	}
	p.latency[name] = d
}

// Fetches returns how many Fetch calls have reached the provider for name
// (with a valid reference and a live context, before Close), whatever their
// outcome: a value, a scripted failure, not found, or a latency cut short.
func (p *Provider) Fetches(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetches[name]
}

// Revoked returns the versions of name revoked through Revoke, in the order
// they were revoked, including those of a value since removed.
func (p *Provider) Revoked(name string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.revoked[name])
}

// takeLocked consumes one use of the script in m for name, or else of the
// one for every name, and returns it, or nil.
func takeLocked(m map[string]*script, name string) *script {
	key := name
	s := m[key]
	if s == nil {
		key = ""
		s = m[key]
	}
	if s == nil {
		return nil
	}
	if s.times > 0 {
		s.times--
		if s.times == 0 {
			delete(m, key)
		}
	}
	return s
}

// corruptLocked replaces the data and version of v, about to be returned for
// name, when a corruption is scripted for it.
func (p *Provider) corruptLocked(name string, v *providers.Value) {
	s := takeLocked(p.corrupts, name)
	if s == nil {
		return
	}
	clear(v.Data)
	v.Data = bytes.Clone(s.data)
	if v.Data == nil {
		v.Data = []byte{}
	}
	v.Version += "-corrupt-" + strconv.Itoa(s.id)
	if s.times == 0 {
		clear(s.data)
	}
}

// healCorruptionLocked wipes and forgets the corruption scripted for name.
func (p *Provider) healCorruptionLocked(name string) {
	if c := p.corrupts[name]; c != nil {
		clear(c.data)
		delete(p.corrupts, name)
	}
}
