package mock

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"github.com/osmen-ai/llmroute/sidecar/translate"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
)

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

// embeddingInputs splits an input into the texts that each get a vector: a
// string, or an array of token ids, is one; an array of strings or of token
// arrays is one per element.
func embeddingInputs(raw json.RawMessage) ([]json.RawMessage, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	if raw[0] != '[' {
		return []json.RawMessage{raw}, raw[0] == '"'
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil || len(items) == 0 {
		return nil, false
	}
	if c := items[0][0]; c == '-' || c >= '0' && c <= '9' {
		return []json.RawMessage{raw}, true
	}
	return items, true
}

// embeddings answers POST /v1/embeddings with one unit vector per input,
// derived from the input's bytes so the same text always embeds the same.
func (x *exchange) embeddings() {
	var req embeddingRequest
	if !x.decode(&req) {
		return
	}
	x.model = req.Model
	prompt := contentWords(req.Input)
	if !x.admit(prompt) {
		return
	}
	if req.Model == "" {
		x.fail(x.invalid("you must provide a model parameter"))
		return
	}
	inputs, ok := embeddingInputs(req.Input)
	if !ok {
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
			message: "'input' is a required property", param: "input"})
		return
	}
	b64 := false
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		b64 = true
	default:
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
			message: "'" + req.EncodingFormat + "' is not one of ['float', 'base64'] - 'encoding_format'", param: "encoding_format"})
		return
	}
	dims := req.Dimensions
	if dims <= 0 {
		dims = x.s.opts.EmbeddingDims
	}

	bp := getBuffer()
	defer putBuffer(bp)
	b := append((*bp)[:0], `{"object":"list","data":[`...)
	vec := make([]float32, dims)
	var raw []byte
	for i, in := range inputs {
		embed(vec, in)
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if b64 {
			raw = raw[:0]
			for _, v := range vec {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = append(b, '[')
			for j, v := range vec {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = translate.AppendString(b, req.Model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `}}`...)
	*bp = b
	x.writeJSON(http.StatusOK, b)
}

// embed fills vec with a unit vector determined by input.
func embed(vec []float32, input []byte) {
	seed := uint64(fnv32(string(input)))
	rng := rand.New(rand.NewPCG(seed, seed<<32|0x85ebca6b))
	var norm float64
	for i := range vec {
		v := rng.Float64()*2 - 1
		vec[i] = float32(v)
		norm += v * v
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		return
	}
	for i := range vec {
		vec[i] = float32(float64(vec[i]) / norm)
	}
}
