package tokens

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/internal/leak"
	"github.com/strongroom/strongroom/internal/redact"
)

// maxBody bounds what is read of a response from an OAuth 2.0 endpoint.
const maxBody = 1 << 20

// errorResponse is an error response (RFC 6749 section 5.2).
type errorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	URI         string `json:"error_uri"`
}

// parseTokenResponse reads a token endpoint's response. On success it
// returns the grant and the refresh token, if any (the caller wipes
// both); on failure an *OAuthError (for an error status) or an *Error
// matching ErrInvalid (for a malformed success), whose texts never
// include the response's token fields. A 200 answer that carries a
// refresh_token string hands it on even when the rest of the answer is
// refused: the server has spent the refresh token sent, and the one it
// rotated in is the only one left. The texts of an error response that
// quote one of creds (the credentials sent) are withheld. The tokens are
// decoded straight into the slices returned (see scanTokenResponse): no
// other copy is made. It does not wipe body.
func parseTokenResponse(status int, header http.Header, body []byte, now time.Time, creds ...[]byte) (*Grant, []byte, error) {
	if status != http.StatusOK {
		return nil, nil, parseErrorResponse("token", status, header, body, now, creds...)
	}
	f, err := scanTokenResponse(body)
	if err != nil {
		return nil, nil, invalidf("token response", "malformed JSON (%d bytes)", len(body))
	}
	if f.refreshBad {
		f.wipe()
		return nil, nil, invalidf("token response", "refresh_token is not a string")
	}
	refresh := f.refresh
	fail := func(why string) (*Grant, []byte, error) {
		clear(f.access)
		return nil, refresh, newError("token response", ErrInvalid, errors.New(why))
	}
	if f.accessBad || len(f.access) == 0 {
		return fail("no access_token string")
	}
	var typ string
	if f.tokenType != nil && json.Unmarshal(f.tokenType, &typ) != nil {
		return fail("token_type is not a string")
	}
	g := &Grant{Value: f.access, Type: redact.Printable(typ, 40)}
	if typ == "" {
		g.Type = "Bearer"
	}
	if len(f.expiresIn) > 0 && string(f.expiresIn) != "null" {
		secs, err := strconv.ParseFloat(strings.Trim(string(f.expiresIn), `"`), 64)
		if err != nil || secs <= 0 || secs > 1<<31 {
			return fail("expires_in is not a positive number of seconds")
		}
		g.ExpiresAt = now.Add(time.Duration(secs * float64(time.Second)))
	}
	if f.scope != nil {
		var scope *string
		if json.Unmarshal(f.scope, &scope) != nil {
			return fail("scope is not a string")
		}
		if scope != nil {
			g.Scopes = strings.Fields(*scope)
			if g.Scopes == nil {
				g.Scopes = []string{}
			}
		}
	}
	return g, refresh, nil
}

// parseErrorResponse makes the OAuthError for a failed request to endpoint.
// The server's text is untrusted: each field (error, error_description,
// error_uri) is withheld when it shares a run of leak.RunLength bytes
// (ASCII case ignored, invalid UTF-8 read as U+FFFD) with one of creds,
// the credentials the request carried in every form it carried them. The
// check runs on the server's full text, and again on each field once cut
// and made printable (a replaced byte must not complete a quote), so that
// no field of the result quotes a credential.
func parseErrorResponse(endpoint string, status int, header http.Header, body []byte, now time.Time, creds ...[]byte) *OAuthError {
	e := &OAuthError{Endpoint: endpoint, StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), now)}
	var r errorResponse
	if json.Unmarshal(body, &r) != nil {
		return e
	}
	quotes := func(s string) bool { return leak.Quotes(s, creds...) }
	if quotes(r.Error) {
		r.Error = ""
	}
	if quotes(r.Description) || quotes(r.URI) {
		r.Description, r.URI = withheldDescription, ""
	}
	e.Code = redact.Printable(r.Error, 64)
	e.Description = redact.Printable(r.Description, 300)
	e.URI = redact.Printable(r.URI, 300)
	if quotes(e.Code) {
		e.Code = ""
	}
	if quotes(e.Description) || quotes(e.URI) {
		e.Description, e.URI = withheldDescription, ""
	}
	if quotes(e.Description) { // a credential that shares a run with the notice itself
		e.Description = ""
	}
	return e
}

// withheldDescription replaces an error description that quoted a
// credential.
const withheldDescription = "[description withheld: it quoted a credential]"

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP
// date. Zero when absent or malformed; at most a day.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		d = time.Duration(min(secs, 86400)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), 24*time.Hour)
}
