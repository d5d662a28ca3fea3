package refcount

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestEndWithoutReaders(t *testing.T) {
	var c Count
	if !c.End() {
		t.Fatal("End with no reader in did not report that the job is its own")
	}
	if c.End() {
		t.Error("a second End reported the job as its own too")
	}
	if c.Enter() {
		t.Error("Enter after End counted a reader in")
	}
}

func TestLastReaderFinishes(t *testing.T) {
	var c Count
	for i := range 2 {
		if !c.Enter() {
			t.Fatalf("Enter %d refused on an open count", i+1)
		}
	}
	if c.End() {
		t.Fatal("End reported the job as its own with two readers in")
	}
	if c.Enter() {
		t.Error("Enter after End counted a reader in")
	}
	if !c.Ended() {
		t.Error("Ended is false after End")
	}
	if c.Leave() {
		t.Error("the first of two readers to leave was told it was the last")
	}
	if !c.Leave() {
		t.Error("the last reader to leave an ended count was not told")
	}
}

func TestLeaveOfOpenCount(t *testing.T) {
	var c Count
	c.Enter()
	if c.Ended() {
		t.Error("Ended is true before End")
	}
	if c.Leave() {
		t.Error("a reader leaving an open count was told to finish the job")
	}
}

// Exactly one party finishes the job, however readers and End interleave.
func TestExactlyOneFinisher(t *testing.T) {
	for range 200 {
		var c Count
		var finished atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if !c.Enter() {
						return
					}
					if c.Leave() {
						finished.Add(1)
					}
				}
			}()
		}
		if c.End() {
			finished.Add(1)
		}
		wg.Wait()
		if n := finished.Load(); n != 1 {
			t.Fatalf("the job was finished %d times, want once", n)
		}
	}
}
