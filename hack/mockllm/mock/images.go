package mock

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// imageOutputTokens is what the mock charges per image generated.
const imageOutputTokens = 16

// generateImages answers POST /v1/images/generations with n small PNG
// images, each one color derived from the prompt and its index, as
// b64_json (or, when response_format is "url", as a data: URL).
func (x *exchange) generateImages() {
	var req struct {
		Model          string `json:"model"`
		Prompt         string `json:"prompt"`
		N              *int   `json:"n"`
		Size           string `json:"size"`
		ResponseFormat string `json:"response_format"`
	}
	if !x.decode(&req) {
		return
	}
	if req.Model == "" {
		req.Model = "dall-e-2" // OpenAI's default
	}
	x.model = req.Model
	words := countWords(req.Prompt)
	if !x.admit(words) {
		return
	}
	n := 1
	if req.N != nil {
		n = *req.N
	}
	switch {
	case req.Prompt == "":
		x.fail(missingParameter("prompt"))
		return
	case n < 1 || n > 10:
		x.fail(apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
			message: "Invalid 'n': integer must be between 1 and 10, but got " + strconv.Itoa(n) + " instead.", param: "n", code: "invalid_value"})
		return
	}
	b := append([]byte(`{"created":`), strconv.FormatInt(time.Now().Unix(), 10)...)
	b = append(b, `,"data":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		img := solidPNG(req.Prompt + "#" + strconv.Itoa(i))
		if req.ResponseFormat == "url" {
			b = append(b, `{"url":"data:image/png;base64,`...)
		} else {
			b = append(b, `{"b64_json":"`...)
		}
		b = base64.StdEncoding.AppendEncode(b, img)
		b = append(b, `","revised_prompt":`...)
		b = translate.AppendString(b, req.Prompt)
		b = append(b, '}')
	}
	b = append(b, ']')
	if strings.HasPrefix(req.Model, "gpt-image") {
		size := req.Size
		if size == "" || size == "auto" {
			size = "1024x1024"
		}
		b = append(b, `,"background":"opaque","output_format":"png","quality":"low","size":`...)
		b = translate.AppendString(b, size)
	}
	b = append(b, `,"usage":{"total_tokens":`...)
	b = strconv.AppendInt(b, int64(words+n*imageOutputTokens), 10)
	b = append(b, `,"input_tokens":`...)
	b = strconv.AppendInt(b, int64(words), 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(n*imageOutputTokens), 10)
	b = append(b, `,"input_tokens_details":{"text_tokens":`...)
	b = strconv.AppendInt(b, int64(words), 10)
	x.writeJSON(http.StatusOK, append(b, `,"image_tokens":0}}}`...))
}

// solidPNG returns an 8x8 PNG of one color derived from seed.
func solidPNG(seed string) []byte {
	h := fnv32(seed)
	c := color.RGBA{R: uint8(h), G: uint8(h >> 8), B: uint8(h >> 16), A: 0xff}
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}
