package mock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// audioFormats maps a speech response_format to its Content-Type and the
// magic bytes its audio starts with, so that a player (or a sniffer) sees
// the format it asked for.
var audioFormats = map[string]struct{ contentType, magic string }{
	"mp3":  {"audio/mpeg", "ID3\x04\x00\x00\x00\x00\x00\x00"},
	"opus": {"audio/opus", "OggS\x00\x02"},
	"aac":  {"audio/aac", "\xff\xf1"},
	"flac": {"audio/flac", "fLaC"},
	"wav":  {"audio/wav", "RIFF\x00\x00\x00\x00WAVEfmt "},
	"pcm":  {"audio/pcm", ""},
}

// speechChunk is the size of the pieces a speech body is written in: it is
// sent chunked, as OpenAI streams it, with a flush after each.
const speechChunk = 4096

// speech answers POST /v1/audio/speech with made-up audio: bytes derived
// from the voice and the input, 1 KiB per word and 1 KiB more, so the same
// request always gets the same body.
func (x *exchange) speech() {
	var req struct {
		Model          string          `json:"model"`
		Input          string          `json:"input"`
		Voice          json.RawMessage `json:"voice"`
		ResponseFormat string          `json:"response_format"`
	}
	if !x.decode(&req) {
		return
	}
	x.model = req.Model
	words := countWords(req.Input)
	if !x.admit(words) {
		return
	}
	switch {
	case req.Model == "":
		x.fail(missingParameter("model"))
		return
	case req.Input == "":
		x.fail(missingParameter("input"))
		return
	case len(req.Voice) == 0 || string(req.Voice) == "null":
		x.fail(missingParameter("voice"))
		return
	}
	if req.ResponseFormat == "" {
		req.ResponseFormat = "mp3"
	}
	format, ok := audioFormats[req.ResponseFormat]
	if !ok {
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
			message: "Invalid value: '" + req.ResponseFormat + "'. Supported values are: 'mp3', 'opus', 'aac', 'flac', 'wav' and 'pcm'.", param: "response_format", code: "invalid_value"})
		return
	}
	x.writeChunked(http.StatusOK, format.contentType, speechAudio(format.magic, string(req.Voice)+req.Input, 1024*(1+words)))
}

// speechAudio returns n bytes of fake audio: magic, then bytes seeded by
// seed.
func speechAudio(magic, seed string, n int) []byte {
	b := make([]byte, n)
	s := uint64(fnv32(seed))
	rng := rand.New(rand.NewPCG(s, s^0x5851f42d4c957f2d))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	copy(b, magic)
	return b
}

// writeChunked sends body without a Content-Length, in pieces flushed one
// by one; ResetMidBody closes the connection half way.
func (x *exchange) writeChunked(status int, contentType string, body []byte) {
	x.w.Header().Set("Content-Type", contentType)
	x.writeHeader(status)
	half := -1
	if x.f.ResetMidBody {
		x.fire("reset_mid_body")
		half = len(body) / 2
	}
	rc := http.NewResponseController(x.w)
	for off := 0; off < len(body); off += speechChunk {
		end := min(off+speechChunk, len(body))
		if half >= 0 && end > half {
			_, _ = x.w.Write(body[off:half])
			x.cut(false)
			return
		}
		if _, err := x.w.Write(body[off:end]); err != nil {
			x.canceled = true
			return
		}
		if err := rc.Flush(); err != nil {
			x.canceled = true
			return
		}
	}
}

// transcription answers POST /v1/audio/transcriptions and
// /v1/audio/translations, multipart uploads of a file and a model. The
// text names the file, its size and its SHA-256, so that a test can tell
// the upload arrived whole: `Transcript of "NAME": N bytes, sha256 HEX.`
// It is one second of audio per 16000 bytes, at least one.
func (x *exchange) transcription() {
	if !x.admit(0) {
		return
	}
	form, ok := x.readForm()
	if !ok {
		return
	}
	x.model = form.fields["model"]
	switch {
	case form.file == nil:
		x.fail(missingParameter("file"))
		return
	case x.model == "":
		x.fail(missingParameter("model"))
		return
	}
	sum := sha256.Sum256(form.file.data)
	text := "Transcript of " + strconv.Quote(form.file.name) + ": " + strconv.Itoa(len(form.file.data)) +
		" bytes, sha256 " + hex.EncodeToString(sum[:]) + "."
	seconds := max(1, len(form.file.data)/16000)
	task := "transcribe"
	if strings.HasSuffix(x.r.URL.Path, "/translations") {
		task = "translate"
	}
	end := "00:00:" + pad2(seconds%60)
	switch format := form.fields["response_format"]; format {
	case "", "json":
		b := append([]byte(`{"text":`), translate.AppendString(nil, text)...)
		b = append(b, `,"usage":{"type":"duration","seconds":`...)
		b = strconv.AppendInt(b, int64(seconds), 10)
		x.writeJSON(http.StatusOK, append(b, `}}`...))
	case "verbose_json":
		b := append([]byte(`{"task":"`), task...)
		b = append(b, `","language":"english","duration":`...)
		b = strconv.AppendInt(b, int64(seconds), 10)
		b = append(b, `,"text":`...)
		b = translate.AppendString(b, text)
		b = append(b, `,"segments":[{"id":0,"seek":0,"start":0,"end":`...)
		b = strconv.AppendInt(b, int64(seconds), 10)
		b = append(b, `,"text":`...)
		b = translate.AppendString(b, text)
		b = append(b, `,"tokens":[],"temperature":0,"avg_logprob":0,"compression_ratio":1,"no_speech_prob":0}],"usage":{"type":"duration","seconds":`...)
		b = strconv.AppendInt(b, int64(seconds), 10)
		x.writeJSON(http.StatusOK, append(b, `}}`...))
	case "text":
		x.writeBody(http.StatusOK, "text/plain; charset=utf-8", []byte(text+"\n"))
	case "srt":
		x.writeBody(http.StatusOK, "text/plain; charset=utf-8", []byte("1\n00:00:00,000 --> "+end+",000\n"+text+"\n\n"))
	case "vtt":
		x.writeBody(http.StatusOK, "text/plain; charset=utf-8", []byte("WEBVTT\n\n00:00:00.000 --> "+end+".000\n"+text+"\n\n"))
	default:
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
			message: "Invalid value: '" + format + "'. Supported values are: 'json', 'text', 'srt', 'verbose_json' and 'vtt'.", param: "response_format", code: "invalid_value"})
	}
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
