// Package bench measures strongroom's read path against the alternatives a
// user would pick: memguard enclaves and locked buffers, gocloud.dev
// runtimevar, the AWS Secrets Manager caching client, and a plain map under
// a sync.RWMutex. It is a module of its own so that strongroom's users do
// not inherit these dependencies. Besides benchmarks it holds one test,
// TestAWSCost, which counts AWS API calls and runs only with
// STRONGROOM_COST=1; see README.md for the commands and the latest figures.
package bench
