package mock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
)

// anthropicClient returns an anthropic-sdk-go client of the harness's
// server that doesn't retry and reads nothing from the environment.
func (h *harness) anthropicClient(opts ...anoption.RequestOption) anthropic.Client {
	return anthropic.NewClient(append([]anoption.RequestOption{
		anoption.WithoutEnvironmentDefaults(),
		anoption.WithBaseURL(h.ts.URL),
		anoption.WithAPIKey("sk-ant-test"),
		anoption.WithMaxRetries(0),
	}, opts...)...)
}

// multipartBody returns a multipart/form-data body with the fields and a
// part named "file", and its Content-Type.
func multipartBody(t *testing.T, filename string, data []byte, fields ...string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if filename != "" {
		fw, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), mw.FormDataContentType()
}

func TestFilesSDK(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	ctx := context.Background()
	data := []byte(strings.Repeat("line of training data\n", 500))

	f, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(bytes.NewReader(data), "train.jsonl", "application/jsonl"), Purpose: openai.FilePurposeFineTune})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.ID, "file-") || f.Object != "file" || f.Bytes != int64(len(data)) || f.Filename != "train.jsonl" ||
		f.Purpose != "fine-tune" || f.CreatedAt == 0 {
		t.Errorf("file = %s", f.RawJSON())
	}
	second, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader("{}\n"), "b.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatal(err)
	}

	got, err := c.Files.Get(ctx, f.ID)
	if err != nil || got.ID != f.ID || got.Bytes != f.Bytes {
		t.Errorf("get = %v, %v", got, err)
	}
	page, err := c.Files.List(ctx, openai.FileListParams{})
	if err != nil || len(page.Data) != 2 || page.Data[0].ID != second.ID || page.Data[1].ID != f.ID || page.HasMore {
		t.Errorf("list = %v, %v", page, err)
	}
	page, err = c.Files.List(ctx, openai.FileListParams{Purpose: openai.String("batch")})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != second.ID {
		t.Errorf("list purpose=batch = %v, %v", page, err)
	}

	resp, err := c.Files.Content(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(body, data) {
		t.Errorf("content: %d bytes, want %d; %v", len(body), len(data), err)
	}

	del, err := c.Files.Delete(ctx, f.ID)
	if err != nil || !del.Deleted || del.ID != f.ID {
		t.Errorf("delete = %v, %v", del, err)
	}
	_, err = c.Files.Get(ctx, f.ID)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Message != "No such File object: "+f.ID {
		t.Errorf("get after delete = %v", err)
	}

	// The upload arrived whole: the echo headers say so too.
	mp, ct := multipartBody(t, "x.txt", []byte("abc"), "purpose", "assistants")
	status, hdr, _ := h.call("POST", "/v1/files", mp, "Content-Type", ct)
	sum := sha256.Sum256([]byte(mp))
	if status != 200 || hdr.Get("X-Mock-Body-Sha256") != hex.EncodeToString(sum[:]) || hdr.Get("X-Mock-Content-Type") != ct {
		t.Errorf("upload echo: %d %v", status, hdr)
	}
	noPurpose, noPurposeCT := multipartBody(t, "x.txt", []byte("abc"))
	badPurpose, badPurposeCT := multipartBody(t, "x.txt", []byte("abc"), "purpose", "nope")
	for _, tc := range []struct{ name, body, ct, want string }{
		{"no purpose", noPurpose, noPurposeCT, "Missing required parameter: 'purpose'."},
		{"bad purpose", badPurpose, badPurposeCT, "'nope' is not one of"},
		{"not multipart", `{"purpose":"batch"}`, "application/json", "Invalid Content-Type header (application/json), expected multipart/form-data."},
	} {
		status, _, b := h.call("POST", "/v1/files", tc.body, "Content-Type", tc.ct)
		if e := decode[oaError](t, b); status != 400 || !strings.HasPrefix(e.Error.Message, tc.want) {
			t.Errorf("%s: %d %s", tc.name, status, b)
		}
	}
}

// TestFilesAnthropic guards that the two providers' Files APIs, which share
// a path, keep to their own format and their own files.
func TestFilesAnthropic(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.anthropicClient()
	ctx := context.Background()
	data := []byte("%PDF-1.7 not really")
	f, err := c.Beta.Files.Upload(ctx, anthropic.BetaFileUploadParams{File: anthropic.File(bytes.NewReader(data), "doc.pdf", "application/pdf")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.ID, "file_011C") || f.Filename != "doc.pdf" || f.MimeType != "application/pdf" || f.SizeBytes != int64(len(data)) || f.CreatedAt.IsZero() {
		t.Errorf("file = %s", f.RawJSON())
	}
	page, err := c.Beta.Files.List(ctx, anthropic.BetaFileListParams{})
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != f.ID {
		t.Errorf("list = %v, %v", page, err)
	}
	resp, err := c.Beta.Files.Download(ctx, f.ID, anthropic.BetaFileDownloadParams{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Errorf("download = %q, %s", got, resp.Header.Get("Content-Type"))
	}
	// OpenAI's side sees none of it.
	if _, _, body := h.call("GET", "/v1/files", ""); !bytes.Contains(body, []byte(`"data":[]`)) {
		t.Errorf("openai list = %s", body)
	}
	status, _, body := h.call("GET", "/v1/files/"+f.ID, "")
	if status != 404 || decode[oaError](t, body).Error == nil {
		t.Errorf("openai get of an anthropic file = %d %s", status, body)
	}
	del, err := c.Beta.Files.Delete(ctx, f.ID, anthropic.BetaFileDeleteParams{})
	if err != nil || del.ID != f.ID || del.Type != "file_deleted" {
		t.Errorf("delete = %v, %v", del, err)
	}
	_, err = c.Beta.Files.GetMetadata(ctx, f.ID, anthropic.BetaFileGetMetadataParams{})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.RawJSON(), `"not_found_error"`) {
		t.Errorf("get after delete = %v", err)
	}
}

func TestBatchesSDK(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	ctx := context.Background()
	lines := `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}}
{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-test"}}
{"custom_id":"c","method":"POST","url":"/v1/embeddings","body":{}}
`
	in, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(lines), "in.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: in.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h, Metadata: map[string]string{"job": "nightly"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.ID, "batch_") || b.Object != "batch" || b.Status != "validating" || b.InputFileID != in.ID || b.Metadata["job"] != "nightly" ||
		b.OutputFileID != "" || b.RequestCounts.Total != 0 {
		t.Errorf("created = %s", b.RawJSON())
	}
	got, err := c.Batches.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "completed" || got.RequestCounts.Total != 3 || got.RequestCounts.Completed != 1 || got.RequestCounts.Failed != 2 ||
		got.OutputFileID == "" || got.ErrorFileID == "" || got.CompletedAt == 0 {
		t.Fatalf("retrieved = %s", got.RawJSON())
	}
	resp, err := c.Files.Content(ctx, got.OutputFileID)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var line struct {
		ID       string `json:"id"`
		CustomID string `json:"custom_id"`
		Response struct {
			StatusCode int    `json:"status_code"`
			RequestID  string `json:"request_id"`
			Body       oaChat `json:"body"`
		} `json:"response"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &line); err != nil || line.CustomID != "a" || line.Response.StatusCode != 200 ||
		line.Response.Body.Object != "chat.completion" || string(line.Error) != "null" || !strings.HasPrefix(line.ID, "batch_req_") {
		t.Errorf("output = %s (%v)", out, err)
	}
	resp, err = c.Files.Content(ctx, got.ErrorFileID)
	if err != nil {
		t.Fatal(err)
	}
	errs, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := bytes.Count(errs, []byte("\n")); n != 2 || !bytes.Contains(errs, []byte(`"custom_id":"b","response":{"status_code":400`)) ||
		!bytes.Contains(errs, []byte(`"custom_id":"c","response":null,"error":{"code":"invalid_request"`)) {
		t.Errorf("errors = %s", errs)
	}
	list, err := c.Batches.List(ctx, openai.BatchListParams{})
	if err != nil || len(list.Data) != 1 || list.Data[0].ID != b.ID {
		t.Errorf("list = %v, %v", list, err)
	}
	// The batch's requests were run inside the server, not counted as
	// requests of their own.
	if st := h.s.Stats(); st.Paths["/v1/chat/completions"] != 0 || st.Paths["/v1/batches/{id}"] != 1 {
		t.Errorf("paths = %v", st.Paths)
	}

	_, err = c.Batches.New(ctx, openai.BatchNewParams{InputFileID: "file-none", Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Param != "input_file_id" {
		t.Errorf("unknown input file = %v", err)
	}
	if status, _, _ := h.call("GET", "/v1/batches/batch_none", ""); status != 404 {
		t.Errorf("unknown batch = %d", status)
	}
}

func TestAudioSDK(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	ctx := context.Background()

	speech := func(format openai.AudioSpeechNewParamsResponseFormat) (*http.Response, []byte) {
		t.Helper()
		resp, err := c.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: openai.SpeechModel("gpt-4o-mini-tts"), Input: "say these five words please",
			Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")}, ResponseFormat: format})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, audio := speech("")
	if resp.Header.Get("Content-Type") != "audio/mpeg" || len(audio) != 6*1024 || !bytes.HasPrefix(audio, []byte("ID3")) ||
		resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
		t.Errorf("mp3: %s, %d bytes, length %d, %v", resp.Header.Get("Content-Type"), len(audio), resp.ContentLength, resp.TransferEncoding)
	}
	if _, again := speech(""); !bytes.Equal(audio, again) {
		t.Error("the same request got other audio")
	}
	if resp, wav := speech(openai.AudioSpeechNewParamsResponseFormatWAV); resp.Header.Get("Content-Type") != "audio/wav" || !bytes.HasPrefix(wav, []byte("RIFF")) {
		t.Errorf("wav: %s %q", resp.Header.Get("Content-Type"), wav[:8])
	}
	status, _, body := h.call("POST", "/v1/audio/speech", `{"model":"tts-1","input":"x"}`)
	if e := decode[oaError](t, body); status != 400 || e.Error.Param == nil || *e.Error.Param != "voice" {
		t.Errorf("no voice: %d %s", status, body)
	}

	clip := bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x00}, 10000)
	tr, err := c.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{File: openai.File(bytes.NewReader(clip), "clip.mp3", "audio/mpeg"), Model: openai.AudioModel("whisper-1")})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(clip)
	if want := fmt.Sprintf(`Transcript of "clip.mp3": %d bytes, sha256 %x.`, len(clip), sum); tr.Text != want {
		t.Errorf("text = %q, want %q", tr.Text, want)
	}
	for _, tc := range []struct{ format, ct, contains string }{
		{"text", "text/plain; charset=utf-8", `Transcript of "clip.mp3"`},
		{"verbose_json", "application/json", `"task":"translate"`},
		{"srt", "text/plain; charset=utf-8", "00:00:00,000 --> 00:00:02,000"},
		{"vtt", "text/plain; charset=utf-8", "WEBVTT"},
	} {
		mp, ct := multipartBody(t, "clip.mp3", clip, "model", "whisper-1", "response_format", tc.format)
		status, hdr, body := h.call("POST", "/v1/audio/translations", mp, "Content-Type", ct)
		if status != 200 || hdr.Get("Content-Type") != tc.ct || !strings.Contains(string(body), tc.contains) {
			t.Errorf("%s: %d %s %s", tc.format, status, hdr.Get("Content-Type"), body)
		}
	}
	mp, ct := multipartBody(t, "clip.mp3", clip)
	if status, _, body := h.call("POST", "/v1/audio/transcriptions", mp, "Content-Type", ct); status != 400 || !bytes.Contains(body, []byte("'model'")) {
		t.Errorf("no model: %d %s", status, body)
	}
}

func TestImagesSDK(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	res, err := c.Images.Generate(context.Background(), openai.ImageGenerateParams{Prompt: "a small red square", Model: openai.ImageModel("gpt-image-2.5-flare"), N: openai.Int(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Data) != 2 || res.Created == 0 || res.Usage.InputTokens != 4 || res.Usage.OutputTokens != 2*imageOutputTokens || res.Size != "1024x1024" {
		t.Fatalf("images = %s", res.RawJSON())
	}
	for i, d := range res.Data {
		raw, err := base64.StdEncoding.DecodeString(d.B64JSON)
		if err != nil {
			t.Fatal(err)
		}
		if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() != 8 {
			t.Errorf("image %d: %v", i, err)
		}
	}
	if res.Data[0].B64JSON == res.Data[1].B64JSON {
		t.Error("both images are the same")
	}
	status, _, body := h.call("POST", "/v1/images/generations", `{"model":"dall-e-3"}`)
	if e := decode[oaError](t, body); status != 400 || string(e.Error.Code) != `"missing_required_parameter"` {
		t.Errorf("no prompt: %d %s", status, body)
	}
	_, _, body = h.call("POST", "/v1/images/generations", `{"prompt":"x","response_format":"url"}`)
	if !bytes.Contains(body, []byte(`"url":"data:image/png;base64,`)) {
		t.Errorf("url = %s", body)
	}
}

func TestModerationsSDK(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	res, err := c.Moderations.New(context.Background(), openai.ModerationNewParams{
		Input: openai.ModerationNewParamsInputUnion{OfStringArray: []string{"a kind word", "please mock:flag this"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.ID, "modr-") || res.Model != "omni-moderation-latest" || len(res.Results) != 2 {
		t.Fatalf("moderation = %s", res.RawJSON())
	}
	ok, flagged := res.Results[0], res.Results[1]
	if ok.Flagged || ok.Categories.Violence || !flagged.Flagged || !flagged.Categories.Violence || flagged.Categories.Hate ||
		flagged.CategoryScores.Violence < 0.9 || !slices.Equal(ok.CategoryAppliedInputTypes.Violence, []string{"text"}) {
		t.Errorf("results = %s", res.RawJSON())
	}
}

func TestChatCompletionsList(t *testing.T) {
	h := newHarness(t, Options{})
	c := h.openaiClient()
	page, err := c.Chat.Completions.List(context.Background(), openai.ChatCompletionListParams{})
	if err != nil || len(page.Data) != 0 || page.HasMore {
		t.Errorf("list = %v, %v", page, err)
	}
}

func TestAnthropicSDKRoutes(t *testing.T) {
	h := newHarness(t, Options{APIKey: "sk-ant-test"})
	c := h.anthropicClient()
	ctx := context.Background()
	msgs := []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there, mock"))}

	count, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude-test", Messages: msgs,
		System: anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String("be brief")}})
	if err != nil || count.InputTokens != messagesWords {
		t.Errorf("count_tokens = %v, %v", count, err)
	}

	models, err := c.Models.List(ctx, anthropic.ModelListParams{})
	if err != nil || len(models.Data) != len(defaultAnthropicModels) || models.Data[0].ID != defaultAnthropicModels[0] || models.Data[0].CreatedAt.IsZero() {
		t.Errorf("models = %v, %v", models, err)
	}

	b, err := c.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: []anthropic.MessageBatchNewParamsRequest{
		{CustomID: "one", Params: anthropic.MessageBatchNewParamsRequestParams{Model: "claude-test", MaxTokens: 100, Messages: msgs}},
		{CustomID: "two", Params: anthropic.MessageBatchNewParamsRequestParams{Model: "claude-test", Messages: msgs}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.ID, "msgbatch_01") || b.ProcessingStatus != "in_progress" || b.RequestCounts.Processing != 2 || b.ResultsURL != "" || b.ExpiresAt.Sub(b.CreatedAt).Hours() != 24 {
		t.Errorf("created = %s", b.RawJSON())
	}
	got, err := c.Messages.Batches.Get(ctx, b.ID, anthropic.MessageBatchGetParams{})
	if err != nil || got.ProcessingStatus != "ended" || got.RequestCounts.Succeeded != 1 || got.RequestCounts.Errored != 1 ||
		got.ResultsURL != h.ts.URL+"/v1/messages/batches/"+b.ID+"/results" || got.EndedAt.IsZero() {
		t.Fatalf("retrieved = %v, %v", got, err)
	}
	stream := c.Messages.Batches.ResultsStreaming(ctx, b.ID, anthropic.MessageBatchResultsParams{})
	results := map[string]anthropic.MessageBatchIndividualResponse{}
	for stream.Next() {
		results[stream.Current().CustomID] = stream.Current()
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if one := results["one"].Result; one.Type != "succeeded" || one.Message.Content[0].Text != h.s.reply.text {
		t.Errorf("result one = %s", one.RawJSON())
	}
	if two := results["two"].Result; two.Type != "errored" || !strings.Contains(two.RawJSON(), "max_tokens: Input should be greater than or equal to 1") {
		t.Errorf("result two = %s", two.RawJSON())
	}
	list, err := c.Messages.Batches.List(ctx, anthropic.MessageBatchListParams{})
	if err != nil || len(list.Data) != 1 || list.Data[0].ProcessingStatus != "ended" {
		t.Errorf("list = %v, %v", list, err)
	}
	_, err = c.Messages.Batches.Get(ctx, "msgbatch_none", anthropic.MessageBatchGetParams{})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Errorf("unknown batch = %v", err)
	}
	_, err = c.Messages.Batches.New(ctx, anthropic.MessageBatchNewParams{Requests: []anthropic.MessageBatchNewParamsRequest{}}, anoption.WithAPIKey("sk-wrong"))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(apiErr.RawJSON(), "authentication_error") {
		t.Errorf("wrong key = %v", err)
	}
}

// TestPassThroughFaultsAndAuth runs the shared checks on every new route:
// the key, the per-request faults, and errors in the route's own format.
func TestPassThroughFaultsAndAuth(t *testing.T) {
	h := newHarness(t, Options{APIKey: "sk-good"})
	routes := []struct {
		method, path string
		anthropic    bool
	}{
		{"POST", "/v1/responses", false},
		{"POST", "/v1/responses/input_tokens", false},
		{"GET", "/v1/responses/resp_1", false},
		{"POST", "/v1/images/generations", false},
		{"POST", "/v1/audio/speech", false},
		{"POST", "/v1/audio/transcriptions", false},
		{"POST", "/v1/files", false},
		{"GET", "/v1/files", false},
		{"GET", "/v1/files/file-1/content", false},
		{"POST", "/v1/batches", false},
		{"GET", "/v1/batches/batch_1", false},
		{"POST", "/v1/moderations", false},
		{"GET", "/v1/chat/completions", false},
		{"GET", "/v1/realtime", false},
		{"GET", "/v1/echo/anything", false},
		{"GET", "/v1/files", true},
		{"POST", "/v1/messages/batches", true},
		{"GET", "/v1/messages/batches/msgbatch_1", true},
		{"GET", "/v1/messages/batches/msgbatch_1/results", true},
		{"POST", "/v1/messages/count_tokens", true},
	}
	for _, rt := range routes {
		name := rt.method + " " + rt.path
		check := func(what string, wantStatus int, header ...string) {
			t.Helper()
			if rt.anthropic {
				header = append(header, "anthropic-version", anthropicVersion)
			}
			status, hdr, body := h.call(rt.method, rt.path, `{}`, header...)
			if status != wantStatus || hdr.Get("X-Mock-Path") != rt.path || hdr.Get("X-Mock-Method") != rt.method {
				t.Errorf("%s, %s: %d %s", name, what, status, body)
				return
			}
			if rt.anthropic {
				if e := decode[anError](t, body); e.Type != "error" || e.RequestID != hdr.Get("Request-Id") {
					t.Errorf("%s, %s: not Anthropic's error: %s", name, what, body)
				}
			} else if e := decode[oaError](t, body); e.Error == nil || hdr.Get("X-Request-Id") == "" {
				t.Errorf("%s, %s: not OpenAI's error: %s", name, what, body)
			}
		}
		check("no key", 401)
		// Each route gets a sequence of its own: the position in a
		// header-scripted one is kept per value and key.
		if rt.anthropic {
			check("scripted status", 529, "x-api-key", "sk-good", "x-mock-status", "529", "x-mock-key", name)
			check("down", 503, "x-api-key", "sk-good", "x-mock-down", "1")
		} else {
			check("scripted status", 502, "Authorization", "Bearer sk-good", "x-mock-status", "502", "x-mock-key", name)
			check("down", 503, "Authorization", "Bearer sk-good", "x-mock-down", "1")
		}
	}
	// A method a path doesn't have is a 404, in the path's format.
	if status, _, body := h.call("DELETE", "/v1/batches", ""); status != 404 || !bytes.Contains(body, []byte("Invalid URL (DELETE /v1/batches)")) {
		t.Errorf("DELETE /v1/batches: %d %s", status, body)
	}
	if status, _, body := h.call("GET", "/v1/messages/count_tokens", "", "anthropic-version", anthropicVersion); status != 404 || decode[anError](t, body).Error.Type != "not_found_error" {
		t.Errorf("GET /v1/messages/count_tokens: %d %s", status, body)
	}
}

func TestStatsPathsByPattern(t *testing.T) {
	h := newHarness(t, Options{})
	for _, id := range []string{"file-1", "file-2", "file-3"} {
		h.call("GET", "/v1/files/"+id, "")
		h.call("GET", "/v1/files/"+id+"/content", "")
	}
	if st := h.s.Stats(); st.Paths["/v1/files/{id}"] != 3 || st.Paths["/v1/files/{id}/content"] != 3 || len(st.Paths) != 2 {
		t.Errorf("paths = %v", st.Paths)
	}
}

// TestFilesMemoryBound guards the byte bound: the oldest files go first.
func TestFilesMemoryBound(t *testing.T) {
	s := New(Options{})
	big := make([]byte, storedFileBytes/3+1)
	var ids []string
	for i := range 4 {
		f := &storedFile{id: fmt.Sprint("file-", i), data: big}
		s.putFile(f)
		ids = append(ids, f.id)
	}
	if _, ok := s.files.get(ids[0]); ok {
		t.Error("the oldest file was kept")
	}
	if _, ok := s.files.get(ids[3]); !ok || s.fileBytes.Load() > storedFileBytes {
		t.Errorf("newest kept %v, %d bytes stored", ok, s.fileBytes.Load())
	}
}
