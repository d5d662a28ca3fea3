package testservers

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// LocalKMSVersion is the local-kms version .ci/build-local-kms builds.
const LocalKMSVersion = "v0.0.0-20260228092603-2a5e92d09ab6"

// LocalKMSRegion is the region local-kms serves (its default, eu-west-2):
// key ARNs name it, and an SDK client must sign for it.
const LocalKMSRegion = "eu-west-2"

// LocalKMS is an AWS KMS emulator (github.com/nsmithuk/local-kms) for one
// test, with a data directory of its own.
type LocalKMS struct {
	// Endpoint is its URL ("http://127.0.0.1:PORT"): the BaseEndpoint of
	// an aws-sdk-go-v2 KMS client. Any static credentials are accepted.
	Endpoint string
	*process
}

var localKMSStarted = regexp.MustCompile(`Local KMS started on [^ ]*:([0-9]+)`)

// StartLocalKMS starts local-kms (built by .ci/build-local-kms, found by
// Binary) on a port the kernel picks (PORT=0), with a fresh KMS_DATA_PATH
// under t.TempDir() and no seed file, reads the port from its log, waits
// until it answers ListKeys with 200 (it has no health endpoint), and stops
// it when the test ends.
//
// local-kms always listens on every interface (it takes a port, not an
// address); clients reach it on 127.0.0.1. It holds no secret but the keys
// the test makes.
func StartLocalKMS(t testing.TB) *LocalKMS {
	t.Helper()
	bin := Binary(t, "local-kms", ".ci/build-local-kms")
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"PORT=0",
		"KMS_DATA_PATH="+filepath.Join(dir, "data"),
		"KMS_SEED_PATH=/nonexistent",
		"KMS_REGION="+LocalKMSRegion,
	)
	cmd.Dir = dir
	k := &LocalKMS{}
	k.process = start(t, "local-kms", cmd, 5*time.Second)
	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	k.waitReady(t, 30*time.Second, func() (bool, error) {
		if k.Endpoint == "" {
			m := localKMSStarted.FindStringSubmatch(k.Log())
			if m == nil {
				return false, nil
			}
			k.Endpoint = "http://127.0.0.1:" + m[1]
		}
		req, err := http.NewRequest(http.MethodPost, k.Endpoint+"/", strings.NewReader("{}"))
		if err != nil {
			return false, err
		}
		req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return k
}
