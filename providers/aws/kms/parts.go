package kms

import "context"

// The parts a view embeds, one per optional ability of the inner provider.
type (
	watchPart  struct{ c *core }
	writePart  struct{ c *core }
	condPart   struct{ writePart }
	revokePart struct{ c *core }
	deletePart struct{ c *core }
)

// Watch watches the inner reference.
func (p watchPart) Watch(ctx context.Context, ref string, changed func()) (func(), error) {
	return p.c.watch(ctx, ref, changed)
}

// Write encrypts data and writes the ciphertext through the inner provider.
func (p writePart) Write(ctx context.Context, ref string, data []byte) (string, error) {
	return p.c.write(ctx, ref, data)
}

// WriteIf encrypts data and writes the ciphertext through the inner
// provider's WriteIf; versions are the inner provider's.
func (p condPart) WriteIf(ctx context.Context, ref string, data []byte, ifVersion string) (string, error) {
	return p.c.writeIf(ctx, ref, data, ifVersion)
}

// Revoke revokes version (the inner provider's) of the inner reference.
func (p revokePart) Revoke(ctx context.Context, ref, version string) error {
	return p.c.revoke(ctx, ref, version)
}

// Delete deletes the inner reference.
func (p deletePart) Delete(ctx context.Context, ref string) error {
	return p.c.delete(ctx, ref)
}
