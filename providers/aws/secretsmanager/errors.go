package secretsmanager

import (
	"context"
	"strings"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/internal/awserr"
)

const prefix = "providers/aws/secretsmanager: "

// apiError turns an error of the SDK into one of ours, naming the
// operation, the secret id and the AWS error code only (see package
// awserr): no credential, session token or signed header can reach it. A
// ctx error is wrapped as such.
func apiError(ctx context.Context, op, id string, err error) error {
	return awserr.Error(ctx, prefix, op, id, err, classify)
}

// classify maps an error code of Secrets Manager to a sentinel of package
// providers, or nil (awserr adds the codes of a refused caller).
func classify(code, msg string) error {
	switch code {
	case "ResourceNotFoundException":
		return providers.ErrNotFound
	case "InvalidRequestException":
		if strings.Contains(msg, "deletion") {
			// The secret is scheduled for deletion: to a reader it is gone.
			return providers.ErrNotFound
		}
	case "DecryptionFailure":
		return providers.ErrInvalid
	}
	return nil
}

// errorKind names the Go type of a transport error without its text.
func errorKind(err error) string { return awserr.Kind(err) }

// codeOf returns the AWS error code of err, or "".
func codeOf(err error) string { return awserr.Code(err) }
