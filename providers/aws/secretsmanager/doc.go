// Package secretsmanager is a strongroom provider for AWS Secrets Manager,
// for references of the scheme "awssm":
//
//	awssm:prod/db                       the AWSCURRENT version of a secret, by name
//	awssm:arn:aws:secretsmanager:...    by ARN
//	awssm:prod/db?stage=AWSPREVIOUS     the version holding a staging label
//	awssm:prod/db?version=ID            one version, by VersionId
//	awssm:prod/db#/password             one member of a JSON secret (a JSON Pointer)
//
// String and binary secrets are both served, as bytes. A Value's Version is
// the AWS VersionId, CreatedAt its CreatedDate, and Labels the secret's
// tags. [Provider] implements [providers.Watcher] (one poller per provider
// calling DescribeSecret, or ListSecrets for 100 secrets a call, neither
// of which transfers a value: see [Options].ListSecrets for the cost of
// each), [providers.Writer]
// (PutSecretValue, CreateSecret), [providers.ConditionalWriter] (with the
// guarantee AWS allows, documented on [Provider.WriteIf]),
// [providers.Revoker] (UpdateSecretVersionStage) and [providers.Deleter]
// (DeleteSecret, with a recovery window unless [Options].ForceDelete).
//
// The package lives in its own module, so that programs that do not use
// AWS never download the SDK.
//
// # Concurrency
//
// Every method is safe for concurrent use, also with Close.
//
// # Errors
//
// Errors start with "providers/aws/secretsmanager: " and wrap the
// sentinels of package providers: ResourceNotFoundException and a secret
// scheduled for deletion give [providers.ErrNotFound], AccessDenied and
// signature or token failures [providers.ErrPermission], a malformed
// reference [providers.ErrInvalidRef].
//
// # Security
//
// An error names the operation, the secret and the AWS error code only:
// the SDK's own error text is not passed on, so no credential, session
// token or signed header reaches a message. No error contains secret data.
package secretsmanager
