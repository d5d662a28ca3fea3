// Package bench measures strongroom's read path against the alternatives a
// user would pick: memguard enclaves and locked buffers, gocloud.dev
// runtimevar, the AWS Secrets Manager caching client, and a plain map under
// a sync.RWMutex. It is a module of its own so that strongroom's users do
// not inherit these dependencies. The package has benchmarks only; see
// README.md for the command and the latest figures.
package bench
