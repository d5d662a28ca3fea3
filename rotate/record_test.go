package rotate

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := record{Step: StepRetire, ID: "r1", Strategy: "alternating", Account: "app_b", From: "app_a", Reason: "schedule",
		Owner: "host:1:ab", LeaseUntil: now.Add(time.Minute), Started: now, Promoted: now.Add(time.Second),
		Last: &lastRotation{ID: "r0", Outcome: OutcomeRolledBack, FailedStep: StepTest, Failure: "login refused", Started: now, Ended: now}, Next: now.Add(time.Hour)}
	got, err := parseRecord(r.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.encode(), r.encode()) {
		t.Errorf("round trip changed the record:\n%s\n%s", got.encode(), r.encode())
	}
	for _, bad := range []string{
		`{"v":2,"step":"idle"}`,
		`{"v":1,"step":"dance"}`,
		`{"v":1,"step":"set"}`,
		`{"v":1,"step":"idle","extra":1}`,
		`{"v":1,"step":"idle"} {}`,
		`{"v":1,"step":"idle","last":{"id":"x","outcome":"maybe","started":"2026-01-01T00:00:00Z","ended":"2026-01-01T00:00:00Z"}}`,
		`{"v":1,"step":"idle","owner":"` + strings.Repeat("x", maxText+1) + `"}`,
		`not json`,
	} {
		if _, err := parseRecord([]byte(bad)); err == nil {
			t.Errorf("parseRecord(%.60s) accepted it", bad)
		}
	}
}

// FuzzParseRecord: parseRecord never panics, its errors quote nothing of
// the input, and what it accepts encodes to a record it accepts again,
// unchanged.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"v":1,"step":"idle","next":"2026-01-01T01:00:00Z"}`))
	f.Add([]byte(`{"v":1,"step":"set","id":"r1","owner":"h:1","lease_until":"2026-01-01T00:01:00Z","pending_version":"3"}`))
	f.Add([]byte(`{"v":1,"step":"rollback","id":"r1","failed_step":"test","failure":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRecord(b)
		if err != nil {
			msg := err.Error()
			for _, w := range strings.FieldsFunc(string(b), func(c rune) bool { return c == '"' || c == ',' || c == ':' || c == '{' || c == '}' }) {
				if len(w) >= 8 && strings.Contains(msg, w) && !strings.Contains("rotate: the state record is not the JSON object this version writes has data after its an unknown step failed rotation under way without id text field over bytes last outcome format version want", w) {
					t.Fatalf("error %q quotes %q of the input", msg, w)
				}
			}
			return
		}
		again, err := parseRecord(r.encode())
		if err != nil {
			t.Fatalf("a record it accepted encodes to one it refuses: %v", err)
		}
		if !bytes.Equal(again.encode(), r.encode()) {
			t.Fatalf("encode is not stable:\n%s\n%s", r.encode(), again.encode())
		}
	})
}
