package authnrequest

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkCheck measures a full successful check per binding (decode,
// parse, RSA-2048 verification, every rule, replay insert).
func BenchmarkCheck(b *testing.B) {
	f := newFixture(b)
	for _, bind := range bothBindings {
		b.Run(short(bind), func(b *testing.B) {
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				reqs[i] = send(b, bind, f.request(b, nil), "rs", &pairA)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.checker.Check(context.Background(), reqs[i], bind); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
