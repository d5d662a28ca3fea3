package tokens

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Transport is an http.RoundTripper that sets each request's Authorization
// header from Source, with the request's own context, then sends it
// through Base. It never changes the caller's request (it sends a clone).
// It is safe for concurrent use.
type Transport struct {
	// Source supplies the tokens. Required.
	Source Source
	// Base sends the requests. Nil: http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip gets a token and sends a clone of req with it. A failure to
// get a token is returned as the round trip's error, and req's body is
// closed, as http.RoundTripper requires.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Source.Token(req.Context())
	if err == nil {
		r := req.Clone(req.Context())
		if err = tok.SetAuthHeader(r); err == nil {
			base := t.Base
			if base == nil {
				base = http.DefaultTransport
			}
			return base.RoundTrip(r)
		}
	}
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, err
}

// OAuth2Options configure [OAuth2TokenSource]. A nil *OAuth2Options means
// the defaults.
type OAuth2Options struct {
	// Timeout bounds each Token call, since oauth2.TokenSource passes no
	// context. Zero: 30 s.
	Timeout time.Duration
}

// OAuth2TokenSource adapts src to golang.org/x/oauth2, for code written
// against oauth2.TokenSource (oauth2.NewClient, Google and gRPC
// credentials). Each Token call asks src with a fresh context bounded by
// OAuth2Options.Timeout: no context is captured, so none can expire under it.
//
// The oauth2.Token's AccessToken is an ordinary string: from there on the
// value lives on the Go heap, outside guarded memory. The adapter makes
// that string once per token, not once per call: it keeps the last one
// (until src hands out another) and returns a copy of the oauth2.Token
// that shares it. Its Expiry is the token's; src already refreshes ahead,
// so wrapping the result in oauth2.ReuseTokenSource adds nothing but its
// lock.
func OAuth2TokenSource(src Source, opts *OAuth2Options) oauth2.TokenSource {
	s := &oauth2Source{src: src, timeout: 30 * time.Second}
	if opts != nil && opts.Timeout > 0 {
		s.timeout = opts.Timeout
	}
	return s
}

type oauth2Source struct {
	src     Source
	timeout time.Duration
	last    atomic.Pointer[oauth2Made]
}

// oauth2Made is the oauth2.Token made for one Token.
type oauth2Made struct {
	from *Token
	tok  oauth2.Token
}

func (s *oauth2Source) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	tok, err := s.src.Token(ctx)
	if err != nil {
		return nil, err
	}
	if m := s.last.Load(); m != nil && m.from == tok {
		out := m.tok
		return &out, nil
	}
	m := &oauth2Made{from: tok, tok: oauth2.Token{TokenType: authScheme(tok.Type()), Expiry: tok.ExpiresAt()}}
	err = tok.Use(func(v []byte) error {
		m.tok.AccessToken = string(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.last.Store(m)
	out := m.tok
	return &out, nil
}
