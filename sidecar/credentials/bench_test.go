package credentials

import (
	"context"
	"net/http"
	"testing"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// The credentials' share of a call's cost: what the proxy asks of a source
// per attempt (Pick, then Answered with a success), the header aside. A
// static key must stay at a few nanoseconds and no allocation: it is almost
// every route's.
func BenchmarkCredentialPerCall(b *testing.B) {
	b.Setenv("LLMROUTE_BENCH_KEY", "sk-bench")
	dir := b.TempDir()
	for _, tc := range []struct {
		name string
		pc   config.Provider
	}{
		{"static key", config.Provider{APIKeyEnv: "LLMROUTE_BENCH_KEY"}},
		{"pool of 3 keys", config.Provider{APIKeys: []config.APIKey{
			{Name: "a", Env: "LLMROUTE_BENCH_KEY"}, {Name: "b", Env: "LLMROUTE_BENCH_KEY", Weight: 2}, {Name: "c", Env: "LLMROUTE_BENCH_KEY", Models: []string{"gpt-5*"}}}}},
		{"token file", config.Provider{TokenFile: writeFile(b, dir, "token", "eyJhbGciOi.x.y")}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tc.pc.Name, tc.pc.Type = "p", config.OpenAI
			cfg := &config.Config{Providers: []config.Provider{tc.pc}}
			cfg.Default()
			set, err := Build(cfg, nil, testEnv(newFakeClock(), 0))
			if err != nil {
				b.Fatal(err)
			}
			src, ctx, call := set.Get("p"), context.Background(), Call{Model: "gpt-4o-mini"}
			b.ReportAllocs()
			for b.Loop() {
				c, err := src.Pick(ctx, call)
				if err != nil {
					b.Fatal(err)
				}
				src.Answered(ctx, c, call, Answer{Status: http.StatusOK})
			}
		})
	}
}
