package tokens

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/internal/redact"
)

// The URLs a Client or RemoteKeys is given may carry a credential: user
// information ("https://KEY@host/"), a query value ("?api_key=..."), a
// fragment. Every URL that reaches an error, a log or fmt output goes
// through redactURL; every error of the HTTP stack (net/http's *url.Error,
// go-retryablehttp's) goes through redactErr before it is returned.

// checkURL accepts an http(s) URL with a host and no user information.
// Its error shows the URL redacted (see redactURL), and an unparsable one
// not at all.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the URL does not parse (withheld: it might hold a credential)")
	}
	if u.User != nil {
		return errors.New(redact.URL(u) + " holds credentials (user information); give them through the store instead")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New(redact.URL(u) + " is not an http(s) URL")
	}
	return nil
}

// redactErr is the one way an error of the HTTP stack leaves this package.
// The stack reports the URL it was sending to (*url.Error: `Post
// "https://host/token?api_key=...": dial tcp ...`), with only a password
// hidden, and go-retryablehttp does the same. redactErr returns an error
// whose text shows every such URL redacted (see redactURL), and whose
// Unwrap chain holds none of the originals: a *url.Error is replaced by a
// *urlError carrying its cause, and a cause whose own text quotes a part
// of the URL is withheld, only its classification kept (context.Canceled,
// context.DeadlineExceeded, a timeout). targets are the URLs the request
// was sent to; a URL reported by the stack (after a redirect, say) is
// redacted as well. An error that quotes none of them is returned as it
// is.
func redactErr(err error, targets ...string) error {
	if err == nil {
		return nil
	}
	var parts []string
	for _, t := range targets {
		parts = append(parts, redact.URLParts(t)...)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		if !redact.Quotes(err.Error(), parts) {
			return err
		}
		return withheldCause(err, "the error quoted the URL")
	}
	parts = append(parts, redact.URLParts(ue.URL)...)
	red := &urlError{op: ue.Op, url: redact.URLString(ue.URL), timeout: ue.Timeout()}
	if cause := ue.Err; cause != nil {
		if redact.Quotes(cause.Error(), parts) {
			red.cause = withheldCause(cause, "the cause quoted the URL")
		} else {
			red.cause = cause
		}
	}
	if error(ue) == err {
		return red
	}
	// A wrapper around the *url.Error: its text, with the url.Error's
	// replaced, if what remains quotes nothing.
	msg := strings.ReplaceAll(err.Error(), ue.Error(), red.Error())
	if redact.Quotes(msg, parts) {
		return withheldCause(red, "the error quoted the URL")
	}
	return &scrubbedError{msg: msg, cause: red}
}

// urlError stands for a *url.Error with its URL redacted.
type urlError struct {
	op, url string
	cause   error
	timeout bool
}

func (e *urlError) Error() string {
	msg := e.op + " " + strconv.Quote(e.url)
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *urlError) Unwrap() error { return e.cause }

// Timeout reports whether the request timed out, as url.Error does.
func (e *urlError) Timeout() bool { return e.timeout }

// scrubbedError is an error's text with parts replaced, over a chain that
// holds none of them.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

// withheldCause stands for err when its text cannot be shown: it keeps
// whether err was a cancellation or a timeout, and nothing else.
func withheldCause(err error, why string) error {
	var kind error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		kind = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		kind = context.Canceled
	}
	var t interface{ Timeout() bool }
	timeout := errors.As(err, &t) && t.Timeout()
	return &withheldError{why: why, kind: kind, timeout: timeout}
}

type withheldError struct {
	why     string
	kind    error
	timeout bool
}

func (e *withheldError) Error() string {
	msg := "[" + e.why + "; withheld]"
	if e.kind != nil {
		msg = e.kind.Error() + " " + msg
	}
	return msg
}

func (e *withheldError) Unwrap() error { return e.kind }

// Timeout reports whether the error withheld was a timeout.
func (e *withheldError) Timeout() bool { return e.timeout }
