// Package ssm is a strongroom provider for AWS Systems Manager Parameter
// Store, for references of the scheme "ssm":
//
//	ssm:/prod/db/password           the current version of a parameter in a hierarchy
//	ssm:db-password                 a parameter at the top level ("/db-password" is the same one)
//	ssm:/prod/db/password?version=3 one version, by number
//	ssm:/prod/db/password?label=L   the version a label is attached to
//	ssm:/prod/db#/password          one member of a JSON value (a JSON Pointer)
//
// String and SecureString parameters are served as bytes, a SecureString
// decrypted (GetParameter with WithDecryption); a StringList as AWS holds
// it, its items separated by commas. A Value's CreatedAt is the version's
// LastModifiedDate and its Labels the parameter's tags (ListTagsForResource
// once per version seen; a caller not allowed to list them gets no labels,
// logged).
//
// A Value's Version is the version number and the time AWS made that
// version, "3@2024-05-01T10:00:00.123Z": the number alone would repeat,
// since a parameter deleted and created again starts at 1 again, and a
// store holding version 1 of the old one would take the new one for
// unchanged. The ?version= of a reference takes the number only.
//
// [Provider] implements [providers.Watcher] (one poller per provider, see
// below), [providers.Writer] (PutParameter: a new version, see
// [Provider.Write]) and [providers.Deleter] (DeleteParameter). It does not
// implement [providers.ConditionalWriter]: Parameter Store has no
// compare-and-swap. Only "create if absent" (PutParameter without
// Overwrite) is atomic; a write conditioned on a version could only check
// and then put, and two processes could both pass the check, so package
// rotate could not rely on it to pick one rotator in a fleet. Keep a
// rotation's state in a provider that has one (Secrets Manager, say).
// Nor does it implement [providers.Revoker]: a version cannot be revoked,
// only the whole parameter deleted.
//
// The package lives in the module of the AWS providers, so that programs
// that do not use AWS never download the SDK.
//
// # Watching
//
// One goroutine per provider polls every watched parameter each
// Options.PollInterval with DescribeParameters, which returns metadata and
// no value, filtered by name ("Name", "Equals", up to 50 names a filter,
// the limit AWS sets; a name of one level takes two, "x" and "/x"). A
// poll of N watched parameters of hierarchies costs ceil(N/50) calls, and
// more only when AWS cuts an answer into pages (it answers "on a
// best-effort basis"; at most 20 pages a call are followed, and what a
// cut-short poll did not see is taken as unknown, not as deleted). A
// watch is signalled when a parameter's version number, LastModifiedDate
// or existence changed; a label moved to another version changes neither.
// Watch itself calls DescribeParameters once, for the parameter's first
// state.
//
// # Concurrency
//
// Every method is safe for concurrent use, also with Close. Close stops
// the poller and waits for it: no goroutine of the provider outlives it.
//
// # Errors
//
// Errors start with "providers/aws/ssm: " and wrap the sentinels of
// package providers: ParameterNotFound and ParameterVersionNotFound give
// [providers.ErrNotFound], AccessDenied and signature or token failures
// [providers.ErrPermission], a value that breaks the parameter's
// AllowedPattern, or data that is empty or not UTF-8 (Parameter Store
// holds text), [providers.ErrInvalid], a malformed reference
// [providers.ErrInvalidRef], a write or delete of a reference with a
// version, label or fragment [providers.ErrUnsupported], and any call
// after Close [providers.ErrClosed]. Throttling and 5xx answers are
// retried by the SDK's retryer before an error is returned; every call
// honours its ctx.
//
// # Security
//
// An error names the operation, the parameter and the AWS error code only:
// the SDK's own error text is not passed on, so no credential, session
// token or signed header reaches a message. No error contains a value.
// The SDK holds a value it sends or receives as a Go string, which cannot
// be wiped: the copy Fetch returns can be, the SDK's lives on the heap
// until collected. [Provider] and [Options] print as fixed descriptions,
// never their fields (a client, and credentials in Options.Config).
//
// # Tested against
//
// The tests run against kumo v0.33.1, an AWS emulator started in process.
// Where kumo differs from AWS, the tests record what kumo does
// (TestKumoDifferences), and AWS's behaviour is taken from its API
// reference:
//
//   - kumo keeps one version of a parameter: GetParameter with a selector
//     ("name:3", "name:label") answers ParameterNotFound, and it has no
//     LabelParameterVersion or GetParameterHistory. So ?version= and
//     ?label= are tested only as far as kumo refusing them as not found,
//     and a Write whose version another write superseded before its time
//     was read returns the bare number (see [Provider.Write]).
//   - kumo takes "x" and "/x" for two parameters, and accepts "a/b"
//     (a hierarchy without the leading '/'), which AWS refuses; the
//     parser refuses it before any call.
//   - kumo keeps the tags of a deleted parameter, and a parameter created
//     again under its name has them.
//   - kumo does not encrypt: a SecureString read without decryption is
//     its plaintext behind "kms:alias/aws/ssm:", and DescribeParameters
//     reports no KeyId; it sets no limit on a value's size or a
//     hierarchy's depth.
//   - kumo honours the "Name" "Equals" filter of DescribeParameters, as
//     AWS does (results the filter should have excluded would be skipped).
//   - kumo races with itself on concurrent requests, so the tests send one
//     request at a time (awstest.SerialTransport); AWS has no such limit.
//   - kumo's state lives as long as the process: every emulator a test
//     binary starts serves the same parameters, so each test names its own.
package ssm
