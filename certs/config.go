package certs

import (
	"crypto/tls"
	"crypto/x509"
	"sync/atomic"
)

// ServerOptions configure [ServerConfig] and [HookServerConfig]. A nil
// *ServerOptions means the defaults: no client certificates.
type ServerOptions struct {
	// ClientCAs, when set, is the rotating bundle client certificates are
	// verified against (mTLS). Nil: client certificates are not
	// requested, unless ClientAuth asks for them.
	ClientCAs *TrustBundle

	// ClientAuth is the client certificate policy. Zero with ClientCAs
	// set: tls.RequireAndVerifyClientCert. Zero without: the config's own
	// (tls.NoClientCert for a new one).
	ClientAuth tls.ClientAuthType
}

// ServerConfig returns a new *tls.Config that serves src's certificates
// (chosen by SNI) with TLS 1.2 or later and, with opts.ClientCAs, verifies
// client certificates against that rotating bundle.
func ServerConfig(src *Source, opts *ServerOptions) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	HookServerConfig(cfg, src, opts)
	return cfg
}

// HookServerConfig makes an existing server config serve src's
// certificates, as go-spiffe's tlsconfig.Hook... functions do: it sets
// GetCertificate and clears Certificates (which would shadow it for
// clients that send no server name). With opts.ClientCAs it sets
// ClientAuth and wraps GetConfigForClient so that every handshake verifies
// client certificates against the bundle's CAs of the moment; a
// GetConfigForClient already set is called first, and the bundle applied
// to the config it returns.
//
// Call it once the rest of cfg is set up: with ClientCAs, the config used
// for handshakes is a clone of cfg, taken again only when the bundle
// rotates, so later changes to cfg may go unseen until then.
func HookServerConfig(cfg *tls.Config, src *Source, opts *ServerOptions) {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	cfg.Certificates = nil
	cfg.GetCertificate = src.GetCertificate
	if o.ClientAuth != tls.NoClientCert {
		cfg.ClientAuth = o.ClientAuth
	} else if o.ClientCAs != nil {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if o.ClientCAs == nil {
		return
	}
	h := &serverHook{base: cfg.Clone(), bundle: o.ClientCAs, user: cfg.GetConfigForClient}
	h.base.GetConfigForClient = nil
	cfg.GetConfigForClient = h.configFor
}

// serverHook applies a rotating client CA pool to each handshake.
type serverHook struct {
	base   *tls.Config
	bundle *TrustBundle
	user   func(*tls.ClientHelloInfo) (*tls.Config, error)
	cache  atomic.Pointer[derived]
}

// derived is base with one trust state's pool as ClientCAs.
type derived struct {
	st  *trustState
	cfg *tls.Config
}

func (h *serverHook) configFor(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if ctx := hello.Context(); ctx != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	st := h.bundle.state.Load()
	if st == nil {
		return nil, &Error{Op: "serve", Certificate: h.bundle.opts.Name, Kind: ErrUntrusted, Err: errNoTrust()}
	}
	if h.user != nil {
		cfg, err := h.user(hello)
		if err != nil || cfg != nil {
			if cfg != nil {
				cfg = cfg.Clone()
				cfg.ClientCAs = st.pool
			}
			return cfg, err
		}
	}
	if d := h.cache.Load(); d != nil && d.st == st {
		return d.cfg, nil
	}
	cfg := h.base.Clone()
	cfg.ClientCAs = st.pool
	h.cache.Store(&derived{st: st, cfg: cfg})
	return cfg, nil
}

// ClientOptions configure [ClientConfig] and [HookClientConfig]. A nil
// *ClientOptions means the defaults.
type ClientOptions struct {
	// RootCAs, when set, is the rotating bundle servers are verified
	// against. Nil: the config's own RootCAs (the system roots for a new
	// one), verified by crypto/tls.
	RootCAs *TrustBundle

	// ServerName is the name the server's certificate must hold when
	// verified against RootCAs. Zero: the server name the client sent
	// (SNI: the ServerName of the config in use, or the host dialled),
	// else, since no SNI is sent for an IP address, the ServerName the
	// config had when it was hooked.
	ServerName string
}

// ClientConfig returns a new *tls.Config for TLS 1.2 or later that
// presents src's certificate when the server asks for one (src may be nil
// for no client certificate) and, with opts.RootCAs, verifies the server
// against that rotating bundle.
func ClientConfig(src *Source, opts *ClientOptions) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	HookClientConfig(cfg, src, opts)
	return cfg
}

// HookClientConfig makes an existing client config present src's
// certificate (when src is not nil: it sets GetClientCertificate and
// clears Certificates) and, with opts.RootCAs, verify servers against that
// rotating bundle: it sets InsecureSkipVerify, which only turns off
// crypto/tls's own verification against RootCAs, and does the full
// verification (chain, validity, server name, server auth key usage) in
// VerifyConnection, which also runs on resumed sessions. A
// VerifyConnection already set runs after it.
func HookClientConfig(cfg *tls.Config, src *Source, opts *ClientOptions) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	if src != nil {
		cfg.Certificates = nil
		cfg.GetClientCertificate = src.GetClientCertificate
	}
	if o.RootCAs == nil {
		return
	}
	bundle, user, now, cfgName := o.RootCAs, cfg.VerifyConnection, cfg.Time, cfg.ServerName
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		name := o.ServerName
		if name == "" {
			name = cs.ServerName // the name sent, also from a clone of cfg (as http.Transport makes)
		}
		if name == "" {
			name = cfgName // an IP address: no SNI is sent
		}
		if name == "" {
			return &Error{Op: "verify", Certificate: bundle.opts.Name, Kind: ErrConfig,
				Err: reason("no server name to verify the server's certificate against; set ClientOptions.ServerName")}
		}
		if len(cs.PeerCertificates) == 0 {
			return &Error{Op: "verify", Certificate: bundle.opts.Name, Kind: ErrUntrusted, Err: reason("the server sent no certificate")}
		}
		vo := x509.VerifyOptions{DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if now != nil {
			vo.CurrentTime = now()
		}
		if _, err := bundle.Verify(cs.PeerCertificates, vo); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
		}
		if user != nil {
			return user(cs)
		}
		return nil
	}
}
