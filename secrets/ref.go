package secrets

import "github.com/strongroom/strongroom/internal/redact"

// redactRef returns ref fit for logs and the inventory (see
// internal/redact.Ref): its user information and the values of
// credential-like parameters are replaced.
func redactRef(ref string) string { return redact.Ref(ref) }
