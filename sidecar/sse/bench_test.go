package sse

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// openAIStream builds a chat completions stream of n content chunks, shaped
// like the API's: a role chunk, content chunks, a finish chunk, a usage chunk
// and the [DONE] sentinel.
func openAIStream(n int) []byte {
	var b bytes.Buffer
	head := `{"id":"chatcmpl-BsV8f1yQcT0aN2kZ9mHqX3eL","object":"chat.completion.chunk","created":1764000000,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_07871e2ad8","choices":[{"index":0,"delta":`
	fmt.Fprintf(&b, "data: %s{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"xY\"}\n\n", head)
	words := []string{" The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".\\n"}
	for i := range n {
		fmt.Fprintf(&b, "data: %s{\"content\":\"%s\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"q1w2e3\"}\n\n", head, words[i%len(words)])
	}
	fmt.Fprintf(&b, "data: %s{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null,\"obfuscation\":\"Zk\"}\n\n", head)
	b.WriteString(`data: {"id":"chatcmpl-BsV8f1yQcT0aN2kZ9mHqX3eL","object":"chat.completion.chunk","created":1764000000,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":27,"completion_tokens":200,"total_tokens":227,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// chunkedReader hands out its data in pieces of a fixed size, as a TCP
// connection does, so events straddle reads.
type chunkedReader struct {
	data []byte
	size int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.size, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// BenchmarkReader reads a realistic 200-chunk OpenAI stream. One op is the
// whole stream; a warm, reset Reader should allocate nothing.
func BenchmarkReader(b *testing.B) {
	stream := openAIStream(200)
	events := bytes.Count(stream, []byte("\n\n"))
	src := &chunkedReader{}
	r := NewReader(src)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	b.ResetTimer()
	for b.Loop() {
		src.data, src.size = stream, 1400
		r.Reset(src)
		n := 0
		for {
			_, err := r.Next()
			if err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
		if n != events {
			b.Fatalf("read %d events, want %d", n, events)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}

func TestReaderAllocsPerEvent(t *testing.T) {
	stream := openAIStream(200)
	src := &chunkedReader{}
	r := NewReader(src)
	read := func() {
		src.data, src.size = stream, 1400
		r.Reset(src)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
	read() // warm the buffers
	if n := testing.AllocsPerRun(20, read); n != 0 {
		t.Fatalf("%v allocations per 200-chunk stream, want 0", n)
	}
}
