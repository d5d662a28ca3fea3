package certs

import (
	"crypto/tls"
	"strings"
)

// snapshot maps server names to pairs. It is immutable once published;
// claim builds a new one when a pair's names change or it comes into or
// goes out of service.
type snapshot struct {
	exact map[string]*pairState // lower-case names
	wild  map[string]*pairState // "*.example.com" under "example.com"
	def   *pairState
}

// claim records the names ps serves and publishes a new snapshot. Only
// pairs in service hold names in it, so that a name claimed by a pair
// withdrawn (expired, revoked, stale) goes to the next pair claiming it,
// then to the default. ps.mu is held, and ps.cur is already what it is to
// be: of concurrent claims, the last to take snapMu sees every change.
func (s *Source) claim(ps *pairState, names []string) {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	ps.names = names
	if s.snap.Load() == nil {
		return // closed
	}
	snap := &snapshot{exact: map[string]*pairState{}, wild: map[string]*pairState{}}
	for _, p := range s.pairs {
		if p.p.Default && snap.def == nil {
			snap.def = p
		}
		if p.cur.Load() == nil {
			continue
		}
		for _, n := range p.names {
			n = strings.TrimSuffix(strings.ToLower(n), ".")
			m, key := snap.exact, n
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				m, key = snap.wild, rest
			}
			if _, taken := m[key]; !taken {
				m[key] = p // the first pair to claim a name keeps it
			}
		}
	}
	if snap.def == nil {
		snap.def = s.pairs[0]
	}
	s.snap.Store(snap)
}

// find returns the pair for a server name: exact, then wildcard (one label
// deep), then the default.
func (snap *snapshot) find(name string) *pairState {
	if name == "" {
		return snap.def
	}
	if hasUpper(name) {
		name = strings.ToLower(name)
	}
	name = strings.TrimSuffix(name, ".")
	if p := snap.exact[name]; p != nil {
		return p
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if p := snap.wild[name[i+1:]]; p != nil {
			return p
		}
	}
	return snap.def
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// GetCertificate returns the certificate for the server name the client
// asked for (exact name, then wildcard, then the default), for
// tls.Config.GetCertificate. Only certificates in service claim names: a
// name whose pair is withdrawn goes to the next pair claiming it, then to
// the default. It fails when the handshake's context has ended, when the
// certificate chosen is not in service (expired, withdrawn: the error
// says why), and after Close. It takes no lock and does not allocate.
func (s *Source) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if ctx := hello.Context(); ctx != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	snap := s.snap.Load()
	if snap == nil {
		return nil, errClosed()
	}
	ps := snap.find(hello.ServerName)
	if sv := ps.cur.Load(); sv != nil {
		return sv.cert, nil
	}
	return nil, ps.unavailable()
}

// errClosed is the error of a hook called after Close.
func errClosed() error { return &Error{Op: "serve", Kind: ErrClosed} }

// unavailable says why ps serves nothing.
func (ps *pairState) unavailable() error {
	if err := ps.down.Load(); err != nil {
		cp := *err // a copy: the caller may keep or change it
		return &cp
	}
	return &Error{Op: "serve", Certificate: ps.p.Name, Kind: ErrNoCertificate, Err: reason("no certificate loaded")}
}

// GetClientCertificate returns a client certificate for
// tls.Config.GetClientCertificate: the first certificate in service that
// the server's acceptable CAs and signature schemes allow, else the
// default one (the server then decides). It fails when the handshake's
// context has ended, when no certificate is in service, and after Close.
func (s *Source) GetClientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if ctx := cri.Context(); ctx != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	snap := s.snap.Load()
	if snap == nil {
		return nil, errClosed()
	}
	for _, ps := range s.pairs {
		if sv := ps.cur.Load(); sv != nil && cri.SupportsCertificate(sv.cert) == nil {
			return sv.cert, nil
		}
	}
	if sv := snap.def.cur.Load(); sv != nil {
		return sv.cert, nil
	}
	return nil, snap.def.unavailable()
}
