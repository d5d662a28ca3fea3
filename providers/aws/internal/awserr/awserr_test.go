package awserr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/strongroom/strongroom/providers"
)

func TestError(t *testing.T) {
	const secret = "Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE"
	notFound := func(code, _ string) error {
		if code == "ThingNotFound" {
			return providers.ErrNotFound
		}
		return nil
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	transport := fmt.Errorf("operation error: %s: %w", secret, &net.OpError{Op: "dial", Err: errors.New(secret)})
	for _, c := range []struct {
		name     string
		ctx      context.Context
		err      error
		want     string
		sentinel error
	}{
		{"classified", context.Background(), &smithy.GenericAPIError{Code: "ThingNotFound", Message: secret},
			`p: Get "x": ThingNotFound: not found`, providers.ErrNotFound},
		{"refused caller", context.Background(), &smithy.GenericAPIError{Code: "ExpiredTokenException", Message: secret},
			`p: Get "x": ExpiredTokenException: permission denied`, providers.ErrPermission},
		{"other code", context.Background(), &smithy.GenericAPIError{Code: "Throttling", Message: secret},
			`p: Get "x": Throttling`, nil},
		{"code with odd bytes", context.Background(), &smithy.GenericAPIError{Code: "Bad Code\n" + strings.Repeat("x", 80)},
			`p: Get "x": Bad?Code?` + strings.Repeat("x", 55), nil},
		{"no response", context.Background(), transport, `p: Get "x": request failed (*errors.errorString)`, nil},
		{"context ended", cancelled, transport, `p: Get "x": context canceled`, context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Error(c.ctx, "p: ", "Get", "x", c.err, notFound)
			if got.Error() != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if c.sentinel != nil && !errors.Is(got, c.sentinel) {
				t.Errorf("%v does not wrap %v", got, c.sentinel)
			}
			if errors.Is(got, c.err) || strings.Contains(fmt.Sprintf("%+v %#v", got, got), "AKIAEXAMPLE") {
				t.Errorf("%v passes on the SDK's error", got)
			}
		})
	}
}

func TestCode(t *testing.T) {
	wrapped := fmt.Errorf("op: %w", &smithy.GenericAPIError{Code: "ParameterNotFound"})
	if got := Code(wrapped); got != "ParameterNotFound" {
		t.Errorf("Code = %q", got)
	}
	if got := Code(errors.New("plain")); got != "" {
		t.Errorf("Code of a plain error = %q", got)
	}
}
