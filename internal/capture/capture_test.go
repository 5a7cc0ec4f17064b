package capture

import (
	"context"
	"sync"
	"testing"
)

func TestBox(t *testing.T) {
	var b Box[string]
	if b.Len() != 0 || len(b.All()) != 0 {
		t.Fatal("a new box is not empty")
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _ = b.Send(context.Background(), "x") })
	}
	wg.Wait()
	if err := b.Send(context.Background(), "last"); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 21 || b.Last(t) != "last" {
		t.Fatalf("Len %d, Last %q; want 21, last", b.Len(), b.Last(t))
	}
	all := b.All()
	all[0] = "changed"
	if b.All()[0] != "x" {
		t.Error("All shares its slice with the box")
	}
}
