package testservers

import (
	"net/http"
	"strings"
	"testing"
)

func TestStartLocalKMS(t *testing.T) {
	k := StartLocalKMS(t)
	if !strings.HasPrefix(k.Endpoint, "http://127.0.0.1:") {
		t.Fatalf("endpoint %q", k.Endpoint)
	}
	req, _ := http.NewRequest(http.MethodPost, k.Endpoint+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ListKeys: %d", resp.StatusCode)
	}
}
