package mock

import (
	"github.com/osmen-ai/llmroute/sidecar/translate"
	"strings"
	"unicode"
	"unicode/utf8"
)

// filler is the sentence the completion text repeats after its greeting.
var filler = strings.Fields("The proxy kept this request alive while the upstream " +
	"answered in its own time, and every token arrived in order.")

// reply is a completion text, pre-rendered as JSON string literals so that
// the healthy path only copies bytes.
type reply struct {
	text   string
	words  []string // the words of text, which is exactly words joined by spaces
	quoted []byte   // text as a JSON string literal
	pieces [][]byte // the stream deltas, each a JSON string literal
	chunks int      // the StreamChunks the pieces were cut for
}

// buildText returns the completion text of a server named name: a greeting
// that names the server, so a demo shows who answered, then filler words up to
// words words or, when bytes is positive, up to at least bytes bytes.
func buildText(name string, words, bytes int) string {
	all := strings.Fields("Hello from " + name + ".")
	var b strings.Builder
	for i := 0; ; i++ {
		if bytes > 0 && b.Len() >= bytes || bytes <= 0 && i >= words {
			break
		}
		var w string
		if i < len(all) {
			w = all[i]
		} else {
			w = filler[(i-len(all))%len(filler)]
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

func newReply(text string, chunks int) *reply {
	r := &reply{text: text, words: strings.Fields(text), chunks: chunks}
	r.quoted = translate.AppendString(nil, text)
	for _, p := range splitText(r.text, r.words, chunks) {
		r.pieces = append(r.pieces, translate.AppendString(nil, p))
	}
	return r
}

// truncate returns the reply cut to its first n words, as max_tokens asks,
// and whether it had to cut.
func (r *reply) truncate(n int) (*reply, bool) {
	if n <= 0 || n >= len(r.words) {
		return r, false
	}
	end := n - 1 // the text is its words joined by single spaces
	for _, w := range r.words[:n] {
		end += len(w)
	}
	t := &reply{text: r.text[:end], words: r.words[:n], chunks: r.chunks}
	t.quoted = translate.AppendString(nil, t.text)
	if r.chunks <= 0 {
		t.pieces = r.pieces[:n] // one piece per word
	} else {
		for _, p := range splitBytes(t.text, r.chunks) {
			t.pieces = append(t.pieces, translate.AppendString(nil, p))
		}
	}
	return t, true
}

// splitText cuts text into stream pieces that concatenate back to text: one
// per word (with its leading space) when chunks is zero, else chunks pieces
// of about equal size, cut on rune boundaries.
func splitText(text string, words []string, chunks int) []string {
	if text == "" {
		return nil
	}
	if chunks <= 0 {
		pieces := make([]string, len(words))
		for i, w := range words {
			if i > 0 {
				w = " " + w
			}
			pieces[i] = w
		}
		return pieces
	}
	return splitBytes(text, chunks)
}

// splitBytes cuts s into n pieces of about equal size on rune boundaries.
func splitBytes(s string, n int) []string {
	if n > len(s) {
		n = len(s)
	}
	if n <= 1 {
		return []string{s}
	}
	pieces := make([]string, 0, n)
	start := 0
	for i := 1; i <= n; i++ {
		end := len(s) * i / n
		for end < len(s) && !utf8.RuneStart(s[end]) {
			end++
		}
		if end > start {
			pieces = append(pieces, s[start:end])
			start = end
		}
	}
	return pieces
}

// countWords counts the whitespace-separated words of s. The mock counts
// tokens as words: rough, but deterministic and easy to predict in a test.
func countWords(s string) int {
	n := 0
	in := false
	for _, c := range s {
		if unicode.IsSpace(c) {
			in = false
		} else if !in {
			in = true
			n++
		}
	}
	return n
}
