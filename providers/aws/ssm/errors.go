package ssm

import (
	"context"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awserr"
)

const prefix = "providers/aws/ssm: "

// apiError turns an error of the SDK into one of ours, naming the
// operation, the parameter and the AWS error code only (see package
// awserr): no credential, session token or signed header can reach it. A
// ctx error is wrapped as such.
func apiError(ctx context.Context, op, name string, err error) error {
	return awserr.Error(ctx, prefix, op, name, err, classify)
}

// classify maps an error code of Parameter Store to a sentinel of package
// providers, or nil (awserr adds the codes of a refused caller).
func classify(code, _ string) error {
	switch code {
	case "ParameterNotFound", "ParameterVersionNotFound":
		return providers.ErrNotFound
	case "ParameterPatternMismatchException", "UnsupportedParameterType":
		// The value breaks the parameter's AllowedPattern.
		return providers.ErrInvalid
	}
	return nil
}
