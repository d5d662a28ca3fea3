package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"
)

// ServerConfigOptions configure [ServerConfig] and [HookServerConfig]. A nil
// *ServerConfigOptions means the defaults: no client certificates.
type ServerConfigOptions struct {
	// ClientCAs, when set, is the rotating bundle client certificates are
	// verified against (mTLS): every certificate a client presents is
	// verified against the bundle's CAs of the moment, for client
	// authentication, on every handshake, resumed ones included. Nil:
	// client certificates are left to crypto/tls and the config's own
	// ClientAuth and ClientCAs.
	ClientCAs *TrustBundle

	// ClientAuth, with ClientCAs, says only whether a client must present
	// a certificate, since one that is presented is always verified
	// against the bundle: zero, tls.RequireAnyClientCert and
	// tls.RequireAndVerifyClientCert require one; tls.RequestClientCert
	// and tls.VerifyClientCertIfGiven let a client that presents none
	// through (its ConnectionState has no PeerCertificates, for the
	// application to decide). No value turns verification off: to serve
	// without client certificates, leave ClientCAs nil.
	//
	// Without ClientCAs, a non-zero ClientAuth is set on the config as
	// is, for crypto/tls to apply with the config's own ClientCAs; zero
	// leaves the config's.
	ClientAuth tls.ClientAuthType
}

// ServerConfig returns a new *tls.Config that serves src's certificates
// (chosen by SNI) with TLS 1.2 or later and, with opts.ClientCAs, verifies
// client certificates against that rotating bundle. It can go to an
// http.Server as is: it sets no GetConfigForClient, so what the server
// adds to its copy of the config (HTTP/2 in NextProtos) stays.
func ServerConfig(src *Source, opts *ServerConfigOptions) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	HookServerConfig(cfg, src, opts)
	return cfg
}

// HookServerConfig makes an existing server config serve src's
// certificates, as go-spiffe's tlsconfig.Hook... functions do: it sets
// GetCertificate and clears Certificates (which would shadow it for
// clients that send no server name).
//
// With opts.ClientCAs it sets ClientAuth to tls.RequireAnyClientCert (or
// tls.RequestClientCert when a certificate is optional, see
// [ServerConfigOptions].ClientAuth), so that crypto/tls asks for a client
// certificate but leaves its verification to VerifyConnection, which it
// wraps: the chain must verify to the bundle's CAs of the moment, for
// client authentication, at the config's Time. crypto/tls runs
// VerifyConnection on every handshake, resumed sessions included, so a
// client whose CA has left the bundle is refused even with a session
// ticket from before (a check that does not depend on the Go release:
// 1.25.0 to 1.25.6 resume sessions without checking a ClientCAs changed
// since, CVE-2025-68121). A VerifyConnection already set runs after it,
// and sees the verified chains in ConnectionState.VerifiedChains.
//
// It also clears cfg.ClientCAs: with ClientAuth as above crypto/tls uses
// it only for the acceptable CA names it sends in its certificate
// request, and those would go stale when the bundle rotates (a Go client
// whose certificate is from a CA not named then sends none). So no CA
// names are sent, and clients present the certificate they have; only a
// config returned by a GetConfigForClient of the program's, which is
// copied for each handshake anyway, gets the bundle's current CAs as
// ClientCAs, for their names.
//
// A GetConfigForClient already set keeps running: a config it returns is
// copied and given the same ClientAuth, VerifyConnection (its own runs
// after) and ClientCAs, so that it cannot turn client verification off.
// No GetConfigForClient is added otherwise: handshakes use the config
// they start with, including what an http.Server adds to its copy (h2).
func HookServerConfig(cfg *tls.Config, src *Source, opts *ServerConfigOptions) {
	var o ServerConfigOptions
	if opts != nil {
		o = *opts
	}
	cfg.Certificates = nil
	cfg.GetCertificate = src.GetCertificate
	if o.ClientCAs == nil {
		if o.ClientAuth != tls.NoClientCert {
			cfg.ClientAuth = o.ClientAuth
		}
		return
	}
	h := &serverHook{bundle: o.ClientCAs,
		required: o.ClientAuth != tls.RequestClientCert && o.ClientAuth != tls.VerifyClientCertIfGiven}
	h.apply(cfg)
	cfg.ClientCAs = nil
	if user := cfg.GetConfigForClient; user != nil {
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := user(hello)
			if err != nil || c == nil || c == cfg {
				if c == cfg {
					c = nil // the hooked config itself: the handshake's own copy of it is hooked already
				}
				return c, err
			}
			c = c.Clone()
			h.apply(c)
			if st := h.bundle.state.Load(); st != nil {
				c.ClientCAs = st.pool // names only: verification is h's
			}
			return c, nil
		}
	}
}

// serverHook verifies client certificates against a rotating bundle.
type serverHook struct {
	bundle   *TrustBundle
	required bool
}

// apply sets cfg's ClientAuth and wraps its VerifyConnection.
func (h *serverHook) apply(cfg *tls.Config) {
	cfg.ClientAuth = tls.RequestClientCert
	if h.required {
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	user, now := cfg.VerifyConnection, cfg.Time
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		switch {
		case len(cs.PeerCertificates) > 0:
			chains, err := verifyPeer(h.bundle, cs.PeerCertificates, "", x509.ExtKeyUsageClientAuth, now)
			if err != nil {
				return err
			}
			cs.VerifiedChains = chains
		case h.required:
			return &Error{Op: "verify", Certificate: h.bundle.opts.Name, Kind: ErrUntrusted, Err: reason("the client sent no certificate")}
		default:
			cs.VerifiedChains = nil
		}
		if user != nil {
			return user(cs)
		}
		return nil
	}
}

// verifyPeer verifies a peer's chain against the bundle's CAs of the
// moment, for usage and, when name is set, for that DNS name or IP
// address.
func verifyPeer(bundle *TrustBundle, peer []*x509.Certificate, name string, usage x509.ExtKeyUsage, now func() time.Time) ([][]*x509.Certificate, error) {
	vo := x509.VerifyOptions{DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage}}
	if now != nil {
		vo.CurrentTime = now()
	}
	chains, err := bundle.Verify(peer, vo)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			err = &Error{Op: "verify", Certificate: bundle.opts.Name, Kind: ErrUntrusted, Err: err}
		}
		return nil, &tls.CertificateVerificationError{UnverifiedCertificates: peer, Err: err}
	}
	return chains, nil
}

// ClientConfigOptions configure [ClientConfig] and [HookClientConfig]. A nil
// *ClientConfigOptions means the defaults.
type ClientConfigOptions struct {
	// RootCAs, when set, is the rotating bundle servers are verified
	// against. Nil: the config's own RootCAs (the system roots for a new
	// one), verified by crypto/tls.
	RootCAs *TrustBundle

	// ServerName is the name the server's certificate must hold when
	// verified against RootCAs: a DNS name, or an IP address, which is
	// checked against the certificate's IP address SANs. Zero: the server
	// name the client sent (SNI: the ServerName of the config in use, or
	// the host dialled). crypto/tls sends no SNI for an IP address and
	// tells VerifyConnection no other name, so a client that dials an IP
	// address must set ServerName to it: without a name the handshake
	// fails with ErrConfig, never falls back to a name the config had
	// before.
	ServerName string
}

// ClientConfig returns a new *tls.Config for TLS 1.2 or later that
// presents src's certificate when the server asks for one (src may be nil
// for no client certificate) and, with opts.RootCAs, verifies the server
// against that rotating bundle.
func ClientConfig(src *Source, opts *ClientConfigOptions) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	HookClientConfig(cfg, src, opts)
	return cfg
}

// HookClientConfig makes an existing client config present src's
// certificate (when src is not nil: it sets GetClientCertificate and
// clears Certificates) and, with opts.RootCAs, verify servers against that
// rotating bundle: it sets InsecureSkipVerify, which only turns off
// crypto/tls's own verification against RootCAs, and does the full
// verification (chain, validity, server name or IP address, server auth
// key usage) in VerifyConnection, which also runs on resumed sessions. A
// VerifyConnection already set runs after it and sees the verified chains
// in ConnectionState.VerifiedChains.
func HookClientConfig(cfg *tls.Config, src *Source, opts *ClientConfigOptions) {
	var o ClientConfigOptions
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
	bundle, user, now := o.RootCAs, cfg.VerifyConnection, cfg.Time
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		name := o.ServerName
		if name == "" {
			name = cs.ServerName // the name sent, also from a copy of cfg (as http.Transport makes)
		}
		if name == "" {
			return &Error{Op: "verify", Certificate: bundle.opts.Name, Kind: ErrConfig,
				Err: reason("no server name to verify the server's certificate against (no SNI is sent for an IP address); set ClientConfigOptions.ServerName")}
		}
		if len(cs.PeerCertificates) == 0 {
			return &Error{Op: "verify", Certificate: bundle.opts.Name, Kind: ErrUntrusted, Err: reason("the server sent no certificate")}
		}
		chains, err := verifyPeer(bundle, cs.PeerCertificates, name, x509.ExtKeyUsageServerAuth, now)
		if err != nil {
			return err
		}
		cs.VerifiedChains = chains
		if user != nil {
			return user(cs)
		}
		return nil
	}
}
