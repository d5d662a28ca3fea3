package secrets_test

import (
	"testing"
	"testing/synctest"
)

// Runs Example_synctest's bubble.
func TestSynctestBubble(t *testing.T) {
	synctest.Test(t, outageInBubble)
}
