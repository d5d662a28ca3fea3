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
// # Tested against
//
// The tests run against kumo v0.33.1, an AWS emulator started in process,
// which differs from AWS in ways the tests work around or record; AWS's
// behaviour is taken from its API reference:
//
//   - kumo has no UpdateSecretVersionStage, so Revoke fails there
//     (TestRevokeKumo) and is left out of its conformance run.
//   - kumo overwrites a version when a ClientRequestToken is reused with
//     other data, where AWS refuses: the cross-process guarantee of
//     [Provider.WriteIf] is AWS's and cannot be shown against kumo; the
//     in-process lock is tested.
//   - kumo leaves AWSPREVIOUS on every older version (after three writes,
//     two hold it), where AWS moves it; tests of ?stage=AWSPREVIOUS write
//     twice only.
//   - kumo keeps LastChangedDate to the second; versions change at once,
//     so changes are still seen on the next poll.
//   - kumo accepts a second DeleteSecret of a secret scheduled for
//     deletion (AWS refuses it); Delete looks first on either.
//   - kumo has no TagResource: tags are tested as set at creation.
//   - kumo's ListSecrets ignores Filters and is consistent at once; AWS's
//     may lag up to five minutes (see [Options].ListSecrets).
//   - kumo keeps its state per process, not per server, and races with
//     itself on concurrent requests, so the tests send one request at a
//     time; AWS has no such limit.
//
// # Security
//
// An error names the operation, the secret and the AWS error code only:
// the SDK's own error text is not passed on, so no credential, session
// token or signed header reaches a message. No error contains secret data.
package secretsmanager
