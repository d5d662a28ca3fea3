package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/strongroom/strongroom/internal/redact"
)

// ACMEOptions configure an [ACME] issuer. DirectoryURL and Solvers are
// required.
type ACMEOptions struct {
	// DirectoryURL is the ACME server's directory (RFC 8555). Required:
	// there is no default, so that no program reaches a public CA by
	// accident.
	DirectoryURL string

	// Prompt is called with the URL of the CA's terms of service when
	// the account is registered, and must return true to agree to them;
	// [AcceptTOS] does. Required: NewACME refuses a nil Prompt, so that
	// agreeing to a CA's terms is always the program's explicit choice
	// (as autocert.Manager's Prompt). When it returns false, Issue fails
	// with ErrConfig without registering.
	Prompt func(tosURL string) bool

	// AccountKey is the ACME account's key (ECDSA or RSA). Zero: a new
	// ECDSA P-256 key, made by NewACME and kept in memory for the life of
	// the ACME value, so that every process run registers a new account.
	// Set it (a sealed signer, say) to keep one account.
	AccountKey crypto.Signer

	// Contact are the account's contact URLs ("mailto:ops@example.com").
	// Zero: none.
	Contact []string

	// Solvers answer the CA's challenges, tried in this order for each
	// name. At least one; an [HTTP01Solver] serves http-01.
	Solvers []Solver

	// HTTPClient talks to the ACME server. Nil: http.DefaultClient.
	HTTPClient *http.Client

	// UserAgent is prepended to the requests' User-Agent. Zero:
	// "strongroom-certs".
	UserAgent string
}

// AcceptTOS agrees to any CA's terms of service: set it as
// [ACMEOptions].Prompt once they have been read and accepted.
func AcceptTOS(tosURL string) bool { return true }

// Solver proves control of a name to an ACME CA, for one challenge type.
// Implementations must be safe for concurrent use, and honour ctx.
type Solver interface {
	// Type is the ACME challenge type answered: "http-01", "dns-01",
	// "tls-alpn-01".
	Type() string
	// Present makes the challenge for identifier (a DNS name or an IP
	// address) answerable: keyAuth is the key authorization (RFC 8555,
	// section 8.1), which http-01 serves as is at
	// /.well-known/acme-challenge/<token>, dns-01 publishes as
	// [DNS01Record](keyAuth) in a TXT record at _acme-challenge.<name>,
	// and tls-alpn-01 embeds as its SHA-256 in a certificate.
	Present(ctx context.Context, identifier, token, keyAuth string) error
	// CleanUp removes what Present made. It runs also when the attempt's
	// context has ended (a timeout, Close), under a context of its own
	// that ends after 10 seconds, so that it cannot hold Close up for
	// longer when it honours ctx.
	CleanUp(ctx context.Context, identifier, token string) error
}

// DNS01Record returns the TXT record value that answers a dns-01
// challenge with key authorization keyAuth.
func DNS01Record(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ACME is an [Issuer] that obtains certificates from an ACME CA (RFC 8555)
// with golang.org/x/crypto/acme: it registers an account (once), orders a
// certificate for the request's names, answers each authorization's
// challenge with the first Solver of its type, finalizes the order with
// the request and returns the chain. When an order fails, it deactivates
// the order's authorizations that are not valid, so that none lingers
// pending at the CA. A [Renewal] with an ACME issuer backs off at least a
// minute after a failure by default (Renewal.MinBackoff), to stay well
// under the CA's limits on failed validations. Make one with [NewACME];
// it is safe for concurrent use.
type ACME struct {
	client  *acme.Client
	opts    ACMEOptions
	mu      sync.Mutex // guards registered
	regDone bool
}

// NewACME makes an ACME issuer. It does no I/O; the account is registered
// at the first Issue. It fails with ErrConfig without a DirectoryURL, a
// Solver, or a Prompt.
func NewACME(opts *ACMEOptions) (*ACME, error) {
	if opts == nil || opts.DirectoryURL == "" || len(opts.Solvers) == 0 {
		return nil, &Error{Op: "new", Kind: ErrConfig, Err: reason("ACME needs a DirectoryURL and at least one Solver")}
	}
	if opts.Prompt == nil {
		return nil, &Error{Op: "new", Kind: ErrConfig, Err: reason("ACMEOptions.Prompt is nil: the CA's terms of service are not accepted; " +
			"read them and set Prompt to certs.AcceptTOS (or a function that checks their URL) to accept them")}
	}
	a := &ACME{opts: *opts}
	a.opts.Solvers = append([]Solver(nil), opts.Solvers...)
	a.opts.Contact = append([]string(nil), opts.Contact...)
	key := opts.AccountKey
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, &Error{Op: "new", Kind: ErrIssue, Err: err}
		}
		key = k
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = "strongroom-certs"
	}
	a.client = &acme.Client{Key: key, HTTPClient: opts.HTTPClient, DirectoryURL: opts.DirectoryURL, UserAgent: ua}
	return a, nil
}

// register makes sure the account exists.
func (a *ACME) register(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.regDone {
		return nil
	}
	dir, err := a.client.Discover(ctx)
	if err != nil {
		return fmt.Errorf("reading the directory: %w", err)
	}
	if dir.Terms != "" && !a.opts.Prompt(dir.Terms) {
		return &Error{Op: "issue (acme)", Kind: ErrConfig,
			Err: reason("the CA's terms of service (%s) were not accepted: ACMEOptions.Prompt returned false", dir.Terms)}
	}
	_, err = a.client.Register(ctx, &acme.Account{Contact: a.opts.Contact}, func(string) bool { return true })
	if err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return fmt.Errorf("registering the account: %w", err)
	}
	a.regDone = true
	return nil
}

// Issue orders a certificate for csr's names from the ACME server, and
// returns the chain it issues, leaf first.
func (a *ACME) Issue(ctx context.Context, csr *x509.CertificateRequest) ([][]byte, error) {
	chain, err := a.issue(ctx, csr)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, &Error{Op: "issue (acme)", Kind: ErrIssue, Err: err}
	}
	return chain, nil
}

// cleanupTimeout bounds the clean-up after an attempt: a Solver's CleanUp,
// deactivating authorizations.
const cleanupTimeout = 10 * time.Second

// cleanupContext is a context for clean-up after an attempt under ctx: it
// runs also when ctx has ended, and ends after cleanupTimeout.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

func (a *ACME) issue(ctx context.Context, csr *x509.CertificateRequest) ([][]byte, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the request's signature does not verify: %w", err)
	}
	if err := a.register(ctx); err != nil {
		return nil, err
	}
	ids := acme.DomainIDs(csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		ids = append(ids, acme.IPIDs(ip.String())...)
	}
	if len(ids) == 0 {
		return nil, errors.New("the request names no DNS name or IP address")
	}
	order, err := a.client.AuthorizeOrder(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("creating the order: %w", err)
	}
	orderURL := order.URI // later replies may not carry it again
	succeeded := false
	defer func() {
		if !succeeded {
			a.deactivate(ctx, order.AuthzURLs)
		}
	}()
	for _, u := range order.AuthzURLs {
		if err := a.authorize(ctx, u); err != nil {
			return nil, err
		}
	}
	if order, err = a.client.WaitOrder(ctx, orderURL); err != nil {
		return nil, fmt.Errorf("waiting for the order to be ready: %w", err)
	}
	chain, _, err := a.client.CreateOrderCert(ctx, order.FinalizeURL, csr.Raw, true)
	if err != nil && orderURL != "" {
		// Some servers (Pebble) answer the finalization without the
		// order's Location, which CreateOrderCert needs to wait for a
		// processing order: poll the order we know instead.
		if o, werr := a.client.WaitOrder(ctx, orderURL); werr == nil && o.Status == acme.StatusValid && o.CertURL != "" {
			chain, err = a.client.FetchCert(ctx, o.CertURL, true)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("finalizing the order: %w", err)
	}
	succeeded = true
	return chain, nil
}

// deactivate deactivates the authorizations at urls that are not valid
// (pending, or left so by a failure), as RFC 8555 section 7.5.2 lets a
// client relinquish them, so that none lingers at the CA. It is bounded
// by cleanupTimeout and reports nothing: the order has failed already.
func (a *ACME) deactivate(ctx context.Context, urls []string) {
	ctx, cancel := cleanupContext(ctx)
	defer cancel()
	for _, u := range urls {
		if authz, err := a.client.GetAuthorization(ctx, u); err == nil && authz.Status == acme.StatusValid {
			continue
		}
		a.client.RevokeAuthorization(ctx, u)
	}
}

// authorize answers the authorization at u, unless it is valid already.
func (a *ACME) authorize(ctx context.Context, u string) error {
	authz, err := a.client.GetAuthorization(ctx, u)
	if err != nil {
		return fmt.Errorf("fetching an authorization: %w", err)
	}
	switch authz.Status {
	case acme.StatusValid:
		return nil
	case acme.StatusPending:
	default:
		return fmt.Errorf("authorization for %s is %s", authz.Identifier.Value, authz.Status)
	}
	chal, solver := a.pick(authz)
	if chal == nil {
		var offered []string
		for _, c := range authz.Challenges {
			offered = append(offered, c.Type)
		}
		return fmt.Errorf("no solver for %s among the challenges offered (%s)", authz.Identifier.Value, strings.Join(offered, ", "))
	}
	keyAuth, err := a.client.HTTP01ChallengeResponse(chal.Token) // the key authorization, whatever the type
	if err != nil {
		return err
	}
	id := authz.Identifier.Value
	if err := solver.Present(ctx, id, chal.Token, keyAuth); err != nil {
		return fmt.Errorf("presenting the %s challenge for %s: %w", chal.Type, id, err)
	}
	defer func() {
		ctx, cancel := cleanupContext(ctx)
		defer cancel()
		solver.CleanUp(ctx, id, chal.Token)
	}()
	if _, err := a.client.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accepting the %s challenge for %s: %w", chal.Type, id, err)
	}
	if _, err := a.client.WaitAuthorization(ctx, u); err != nil {
		return fmt.Errorf("authorization for %s: %w", id, err)
	}
	return nil
}

// pick returns the first challenge of authz that a solver answers, in the
// solvers' order.
func (a *ACME) pick(authz *acme.Authorization) (*acme.Challenge, Solver) {
	for _, s := range a.opts.Solvers {
		for _, c := range authz.Challenges {
			if c.Type == s.Type() {
				return c, s
			}
		}
	}
	return nil, nil
}

// HTTP01Solver answers http-01 challenges: it is an http.Handler that
// serves each pending key authorization at
// /.well-known/acme-challenge/<token>, to be mounted on the server that
// answers on port 80 for the names (see [HTTP01Solver.Handler]). Its zero
// value is ready to use; it is safe for concurrent use.
type HTTP01Solver struct {
	mu     sync.Mutex
	tokens map[string]string
}

const http01Prefix = "/.well-known/acme-challenge/"

// Type returns "http-01".
func (s *HTTP01Solver) Type() string { return "http-01" }

// Present starts serving keyAuth for token.
func (s *HTTP01Solver) Present(_ context.Context, _, token, keyAuth string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = map[string]string{}
	}
	s.tokens[token] = keyAuth
	return nil
}

// CleanUp stops serving token.
func (s *HTTP01Solver) CleanUp(_ context.Context, _, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
	return nil
}

// ServeHTTP answers a challenge request, and 404 for anything else.
func (s *HTTP01Solver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.serve(w, r) {
		http.NotFound(w, r)
	}
}

// Handler returns a handler that answers challenge requests and passes
// every other request to fallback (nil: 404).
func (s *HTTP01Solver) Handler(fallback http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.serve(w, r) {
			return
		}
		if fallback == nil {
			http.NotFound(w, r)
			return
		}
		fallback.ServeHTTP(w, r)
	})
}

func (s *HTTP01Solver) serve(w http.ResponseWriter, r *http.Request) bool {
	token, ok := strings.CutPrefix(r.URL.Path, http01Prefix)
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	s.mu.Lock()
	keyAuth, ok := s.tokens[token]
	s.mu.Unlock()
	if !ok {
		return false
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(keyAuth))
	return true
}

// String describes the issuer by its directory URL, redacted (user
// information and credential-like parameters replaced by "xxxxx"); never
// its account key.
func (a *ACME) String() string {
	if a == nil {
		return "<nil>"
	}
	return "certs.ACME " + redact.Ref(a.opts.DirectoryURL)
}

// Format prints String under every fmt verb.
func (a *ACME) Format(f fmt.State, _ rune) { io.WriteString(f, a.String()) }

// String describes the options by their redacted directory URL and
// contacts; never the account key.
func (o ACMEOptions) String() string {
	s := "certs.ACMEOptions{" + redact.Ref(o.DirectoryURL)
	if len(o.Contact) > 0 {
		s += " contact=" + strings.Join(o.Contact, ",")
	}
	if o.AccountKey != nil {
		s += " account key [REDACTED]"
	}
	return s + fmt.Sprintf(" %d solver(s)}", len(o.Solvers))
}

// Format prints String under every fmt verb.
func (o ACMEOptions) Format(f fmt.State, _ rune) { io.WriteString(f, o.String()) }

// String describes the solver: how many challenges it is answering.
func (s *HTTP01Solver) String() string {
	if s == nil {
		return "<nil>"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("certs.HTTP01Solver{%d pending}", len(s.tokens))
}

// Format writes String for every fmt verb (fmt would otherwise read the
// solver's lock and pending challenges while others write them).
func (s *HTTP01Solver) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }
