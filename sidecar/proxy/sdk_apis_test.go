package proxy

// The whole API surface through the official SDKs, pointed at the proxy by
// base URL alone: the Responses API (routed, with fallback), and the calls
// that pass through — images, speech, transcriptions, files, moderations,
// Anthropic's token counts. Labelling a pod must not break any of them.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	oaoption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/osmen-ai/llmroute/hack/mockllm/mock"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// apiHarness is a proxy in front of an OpenAI mock (which serves the
// Responses API) and an Anthropic mock, in that fallback order.
func apiHarness(t *testing.T, openaiFaults mock.Faults) *harness {
	t.Helper()
	return fallbackHarness(t, openaiFaults, upstream{name: sdkAnthropicBackend, typ: config.Anthropic})
}

// fallbackHarness is a proxy in front of an OpenAI mock, then backup.
func fallbackHarness(t *testing.T, openaiFaults mock.Faults, backup upstream) *harness {
	t.Helper()
	return sdkHarness(t, []upstream{
		{name: sdkOpenAIBackend, typ: config.OpenAI, opts: mock.Options{Faults: openaiFaults}},
		backup,
	}, func(c *config.Config) {
		c.Providers[1].DefaultModel = sdkAnthropicModel
	})
}

// sdkChatOnlyBackend is an OpenAI-compatible server with chat completions
// only (the default apis of its type): a Responses call is translated.
const sdkChatOnlyBackend = "local-mock"

func responsesWeatherTool() responses.ToolUnionParam {
	return responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{
		Name:       sdkToolName,
		Parameters: sdkWeatherSchema(),
		Strict:     openai.Bool(false),
	}}
}

// responsesTurn is what a Responses client saw of one answer.
type responsesTurn struct {
	header       http.Header
	text         string
	call         *responses.ResponseFunctionToolCall
	status       string
	input, total int64
	events       []string
}

// responsesCall makes one Responses API call, streamed or not, with the
// weather tool offered.
func responsesCall(t *testing.T, h *harness, stream bool, input responses.ResponseNewParamsInputUnion) responsesTurn {
	t.Helper()
	var httpResp *http.Response
	c := newOpenAIClient(h, oaoption.WithResponseInto(&httpResp))
	params := responses.ResponseNewParams{Model: sdkOpenAIModel, Input: input, Tools: []responses.ToolUnionParam{responsesWeatherTool()}}
	var resp responses.Response
	var turn responsesTurn
	if stream {
		s := c.Responses.NewStreaming(context.Background(), params)
		for s.Next() {
			ev := s.Current()
			turn.events = append(turn.events, ev.Type)
			if e, ok := ev.AsAny().(responses.ResponseCompletedEvent); ok {
				resp = e.Response
			}
			if e, ok := ev.AsAny().(responses.ResponseErrorEvent); ok {
				t.Fatalf("error event: %s", e.RawJSON())
			}
		}
		if err := s.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
	} else {
		r, err := c.Responses.New(context.Background(), params)
		if err != nil {
			t.Fatalf("responses.create: %s", sdkErrorDetail(err))
		}
		resp = *r
	}
	turn.header = httpResp.Header
	turn.text = resp.OutputText()
	turn.status = string(resp.Status)
	turn.input, turn.total = resp.Usage.InputTokens, resp.Usage.TotalTokens
	for _, item := range resp.Output {
		if item.Type == "function_call" {
			call := item.AsFunctionCall()
			turn.call = &call
		}
	}
	return turn
}

func functionCallOutput(callID, output string) responses.ResponseInputItemUnionParam {
	item := responses.ResponseInputItemParamOfFunctionCallOutput(output)
	item.OfFunctionCallOutput.CallID = openai.String(callID)
	return item
}

// A Responses API conversation with a function tool — the call, then its
// output — served by a provider that speaks the Responses API, and by
// Anthropic through translation when that provider is down.
func TestSDKResponses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		faults  mock.Faults
		backup  config.ProviderType
		backend string
	}{
		{"native", mock.Faults{}, config.Anthropic, sdkOpenAIBackend},
		{"fallback to anthropic", mock.Faults{Down: true}, config.Anthropic, sdkAnthropicBackend},
		{"fallback to a chat-only server", mock.Faults{Down: true}, config.OpenAICompatible, sdkChatOnlyBackend},
	} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				backup := upstream{name: sdkAnthropicBackend, typ: tc.backup}
				if tc.backup != config.Anthropic {
					backup.name = sdkChatOnlyBackend
				}
				h := fallbackHarness(t, tc.faults, backup)
				first := responsesCall(t, h, stream, responses.ResponseNewParamsInputUnion{OfString: openai.String(sdkQuestion)})
				if got := first.header.Get("x-llmroute-provider"); got != tc.backend {
					t.Fatalf("served by %q, want %q", got, tc.backend)
				}
				if first.call == nil || first.call.Name != sdkToolName || first.call.CallID == "" || !strings.Contains(first.call.Arguments, `"city"`) {
					t.Fatalf("want a %s call, got text %q call %+v", sdkToolName, first.text, first.call)
				}
				if first.status != "completed" || first.input == 0 || first.total <= first.input {
					t.Errorf("status %q, usage in=%d total=%d", first.status, first.input, first.total)
				}
				if stream && (len(first.events) < 4 || first.events[0] != "response.created" || first.events[len(first.events)-1] != "response.completed") {
					t.Errorf("events %v", first.events)
				}
				// The tool's output goes back with the call, and the model answers.
				items := responses.ResponseInputParam{
					responses.ResponseInputItemParamOfMessage(sdkQuestion, responses.EasyInputMessageRoleUser),
					responses.ResponseInputItemParamOfFunctionCall(first.call.Arguments, first.call.CallID, first.call.Name),
					functionCallOutput(first.call.CallID, sdkToolResult),
				}
				second := responsesCall(t, h, stream, responses.ResponseNewParamsInputUnion{OfInputItemList: items})
				if second.call != nil || !strings.HasPrefix(second.text, "Hello from "+tc.backend) {
					t.Errorf("want %s's text answer, got %q (call %+v)", tc.backend, second.text, second.call)
				}
				if got := second.header.Get("x-llmroute-provider"); got != tc.backend {
					t.Errorf("follow-up served by %q", got)
				}
			})
		}
	}
}

// The calls the sidecar does not route reach the provider through it with
// the provider's key, as the SDKs make them.
func TestSDKPassThrough(t *testing.T) {
	h := apiHarness(t, mock.Faults{})
	var httpResp *http.Response
	oa := newOpenAIClient(h, oaoption.WithResponseInto(&httpResp))
	ctx := context.Background()
	servedBy := func(what, want string) {
		t.Helper()
		if got := httpResp.Header.Get("x-llmroute-provider"); got != want {
			t.Errorf("%s served by %q, want %q", what, got, want)
		}
	}

	img, err := oa.Images.Generate(ctx, openai.ImageGenerateParams{Prompt: "a small red square", Model: openai.ImageModel("gpt-image-2.5-flare")})
	if err != nil || len(img.Data) != 1 || img.Data[0].B64JSON == "" {
		t.Fatalf("images.generate: %v %v", img, err)
	}
	servedBy("images", sdkOpenAIBackend)

	speech, err := oa.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: openai.SpeechModel("gpt-4o-mini-tts"), Input: "hello",
		Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")}})
	if err != nil {
		t.Fatal(err)
	}
	audio, err := io.ReadAll(speech.Body)
	speech.Body.Close()
	if err != nil || speech.Header.Get("Content-Type") != "audio/mpeg" || !bytes.HasPrefix(audio, []byte("ID3")) {
		t.Fatalf("speech: %s, %d bytes, %v", speech.Header.Get("Content-Type"), len(audio), err)
	}

	clip := bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x00}, 300_000) // 1.2 MB: streamed through, not held
	tr, err := oa.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{File: openai.File(bytes.NewReader(clip), "clip.mp3", "audio/mpeg"), Model: openai.AudioModel("whisper-1")})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`Transcript of "clip.mp3": %d bytes, sha256 %x.`, len(clip), sha256.Sum256(clip)); tr.Text != want {
		t.Errorf("transcription %q, want %q: the upload did not arrive whole", tr.Text, want)
	}

	f, err := oa.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(`{"custom_id":"1"}`+"\n"), "in.jsonl", "application/jsonl"), Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	got, err := oa.Files.Get(ctx, f.ID)
	if err != nil || got.ID != f.ID || got.Filename != "in.jsonl" {
		t.Fatalf("files.retrieve: %+v %v", got, err)
	}
	servedBy("files", sdkOpenAIBackend)

	mod, err := oa.Moderations.New(ctx, openai.ModerationNewParams{Input: openai.ModerationNewParamsInputUnion{OfString: openai.String("please mock:flag this")}})
	if err != nil || len(mod.Results) != 1 || !mod.Results[0].Flagged {
		t.Fatalf("moderations: %v %v", mod, err)
	}

	var anResp *http.Response
	an := newAnthropicClient(h, anoption.WithResponseInto(&anResp))
	count, err := an.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: sdkAnthropicModel,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(sdkQuestion))}})
	if err != nil || count.InputTokens != sdkQuestionToks {
		t.Fatalf("count_tokens: %v %v", count, err)
	}
	if got := anResp.Header.Get("x-llmroute-provider"); got != sdkAnthropicBackend {
		t.Errorf("count_tokens served by %q", got)
	}
	for name, m := range h.mocks {
		if st := m.Stats(); st.LastAuthorization == "Bearer "+sdkPlaceholderKey || st.LastAPIKey == sdkPlaceholderKey {
			t.Errorf("%s got the app's placeholder key", name)
		}
	}
}
