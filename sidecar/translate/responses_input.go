package translate

import (
	"encoding/json"
	"fmt"
)

// Reading a Responses request once, in the terms both of its backends need:
// the conversation as a list of turns, the function tools, the tool choice,
// the output format, and what the response object repeats of the request.
// What neither backend can express is refused here; what only one cannot is
// refused by that backend's translator.

// rsRequestParts is a checked Responses request.
type rsRequestParts struct {
	req        rsRequest
	turns      []rsTurn
	tools      []rsFunctionTool
	choice     string // "", none, auto, required, or function (named by choiceName)
	choiceName string
	format     *rsTextFormat // nil for plain text
	verbosity  string        // low or high; "" for the default, medium
	effort     string        // reasoning.effort, "" when unset
	user       string        // safety_identifier, else user
	stream     bool
	echo       []byte // the members of rsEcho, without the braces
}

// rsTurnKind is what an input item is, once read.
type rsTurnKind uint8

const (
	rsSystem    rsTurnKind = iota + 1 // a system or developer message
	rsUser                            // a user message
	rsAssistant                       // an earlier assistant message
	rsCall                            // an earlier function call
	rsOutput                          // a function call's output
)

// rsTurn is one input item that reaches the backend.
type rsTurn struct {
	kind rsTurnKind
	path string // "input[3]." for errors
	// content of messages and function outputs: a plain string (str), or
	// parts
	str   *string
	parts []rsContent
	// rsCall and rsOutput
	callID, name, args string
}

// rsContent is a text or image part of a turn.
type rsContent struct {
	image  bool
	text   string // the text, or the image's URL
	detail string // an image's detail, "" when unset
	path   string // "input[3].content[1]." for errors
}

// readResponsesRequest decodes and checks a Responses request.
func readResponsesRequest(body []byte) (*rsRequestParts, error) {
	p := &rsRequestParts{}
	req := &p.req
	if err := decodeStrict(body, req, ""); err != nil {
		return nil, err
	}
	if err := refuseResponsesExtras(req); err != nil {
		return nil, err
	}
	if req.MaxOutputTokens != nil && *req.MaxOutputTokens < 1 {
		return nil, invalid("max_output_tokens must be at least 1")
	}
	switch {
	case req.SafetyIdentifier != nil && *req.SafetyIdentifier != "":
		p.user = *req.SafetyIdentifier
	case req.User != nil:
		p.user = *req.User
	}
	p.stream = req.Stream != nil && *req.Stream
	var err error
	if p.tools, err = readResponsesTools(req.Tools); err != nil {
		return nil, err
	}
	if p.choice, p.choiceName, err = readResponsesToolChoice(req.ToolChoice); err != nil {
		return nil, err
	}
	var format json.RawMessage
	if req.Text != nil {
		format = req.Text.Format
		if p.format, err = readResponsesFormat(format); err != nil {
			return nil, err
		}
		if v := req.Text.Verbosity; v != nil {
			switch *v {
			case "medium":
			case "low", "high":
				p.verbosity = *v
			default:
				return nil, invalid("text.verbosity %q is not low, medium or high", *v)
			}
		}
	}
	if r := req.Reasoning; r != nil {
		if r.Mode != nil && *r.Mode != "standard" {
			return nil, unsupported("reasoning.mode", "%q is an OpenAI execution mode with no equivalent; only standard is accepted", *r.Mode)
		}
		if r.Effort != nil {
			p.effort = *r.Effort
		}
	}
	if p.turns, err = readResponsesInput(req.Input); err != nil {
		return nil, err
	}
	if p.echo, err = responsesEcho(req, format); err != nil {
		return nil, err
	}
	return p, nil
}

// responsesIncludes are the include values that ask for nothing a
// translated answer could hold: results and sources of OpenAI's built-in
// tools (which are refused), the input's image URLs, and the encrypted
// reasoning that a stateless client sends back on its next turn (the
// translated answer has no reasoning items to encrypt).
var responsesIncludes = map[string]bool{
	"file_search_call.results":              true,
	"web_search_call.results":               true,
	"web_search_call.action.sources":        true,
	"message.input_image.image_url":         true,
	"computer_call_output.output.image_url": true,
	"code_interpreter_call.outputs":         true,
	"reasoning.encrypted_content":           true,
}

// refuseResponsesExtras refuses what neither backend can express: state
// kept by OpenAI, and features that have no equivalent.
func refuseResponsesExtras(req *rsRequest) error {
	switch {
	case req.PreviousResponseID != nil && *req.PreviousResponseID != "":
		return unsupported("previous_response_id", "names a response stored by OpenAI, which another provider cannot continue; send the conversation as input instead")
	case !isNull(req.Conversation):
		return unsupported("conversation", "names a conversation stored by OpenAI, which another provider cannot read; send the conversation as input instead")
	case req.Background != nil && *req.Background:
		return unsupported("background", "a background response is kept and polled on OpenAI's servers; another provider can only answer in the foreground")
	case !isNull(req.Prompt):
		return unsupported("prompt", "names a prompt template stored by OpenAI, which another provider cannot read")
	case !isNull(req.Moderation):
		return unsupported("moderation", "OpenAI's moderation of the response has no equivalent")
	case !isNull(req.ContextManagement):
		return unsupported("context_management", "OpenAI's server-side compaction is not translated")
	case !isNull(req.AccessPrograms):
		return unsupported("access_programs", "OpenAI's access programs decide what a model may answer and have no equivalent")
	case req.TopLogprobs != nil && *req.TopLogprobs != 0:
		return unsupported("top_logprobs", "log probabilities are not translated")
	}
	for i, inc := range req.Include {
		switch {
		case inc == "message.output_text.logprobs":
			return unsupported(fmt.Sprintf("include[%d]", i), "log probabilities are not translated")
		case !responsesIncludes[inc]:
			return unsupported(fmt.Sprintf("include[%d]", i), "%q is not translated", inc)
		}
	}
	if t := req.Truncation; t != nil && *t != "disabled" && *t != "auto" {
		return invalid("truncation %q is not auto or disabled", *t)
	}
	if !isNull(req.Metadata) && firstByte(req.Metadata) != '{' {
		return invalid("metadata must be an object")
	}
	return nil
}

// readResponsesTools reads the tools: function tools only. OpenAI's
// built-in tools (web search, file search, code interpreter, computer use,
// image generation, MCP, shells …) run on OpenAI's servers, and custom
// tools take free-form input; neither backend has them.
func readResponsesTools(raws []json.RawMessage) ([]rsFunctionTool, error) {
	if len(raws) == 0 {
		return nil, nil
	}
	tools := make([]rsFunctionTool, len(raws))
	for i, raw := range raws {
		path := fmt.Sprintf("tools[%d].", i)
		if typ := blockType(raw); typ != "function" && typ != "" {
			return nil, unsupported(path+"type", "only function tools are translated, not %q", typ)
		}
		tool := &tools[i]
		if err := decodeStrict(raw, tool, path); err != nil {
			return nil, err
		}
		switch {
		case tool.Name == "":
			return nil, invalid("%sname is required", path)
		case !isNull(tool.Parameters) && !jsonObject(tool.Parameters):
			return nil, invalid("%sparameters must be a JSON object", path)
		case tool.DeferLoading != nil && *tool.DeferLoading:
			return nil, unsupported(path+"defer_loading", "deferred tools need OpenAI's tool search")
		case !isNull(tool.OutputSchema):
			return nil, unsupported(path+"output_schema", "the backend's tools cannot describe their output")
		}
		for _, c := range tool.AllowedCallers {
			if c != "direct" {
				return nil, unsupported(path+"allowed_callers", "programmatic tool calling is not translated")
			}
		}
	}
	return tools, nil
}

// readResponsesToolChoice reads tool_choice: none, auto, required, or
// {"type":"function","name":…}.
func readResponsesToolChoice(raw json.RawMessage) (mode, name string, err error) {
	switch firstByte(raw) {
	case 0, 'n':
		if !isNull(raw) {
			return "", "", invalid("tool_choice must be a string or an object")
		}
		return "", "", nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", "", invalid("tool_choice must be a string or an object")
		}
		switch s {
		case "none", "auto", "required":
			return s, "", nil
		}
		return "", "", invalid("tool_choice %q is not none, auto or required", s)
	case '{':
		switch typ := blockType(raw); typ {
		case "function":
		case "allowed_tools":
			return "", "", unsupported("tool_choice.type", "allowed_tools is not translated")
		default:
			return "", "", unsupported("tool_choice.type", "only function tool choices are translated, not %q", typ)
		}
		var tc rsToolChoiceObject
		if err := decodeStrict(raw, &tc, "tool_choice."); err != nil {
			return "", "", err
		}
		if tc.Name == "" {
			return "", "", invalid("tool_choice.name is required")
		}
		return "function", tc.Name, nil
	}
	return "", "", invalid("tool_choice must be a string or an object")
}

// readResponsesFormat reads text.format: nil for text, the format for
// json_schema and json_object.
func readResponsesFormat(raw json.RawMessage) (*rsTextFormat, error) {
	if isNull(raw) {
		return nil, nil
	}
	var f rsTextFormat
	if err := decodeStrict(raw, &f, "text.format."); err != nil {
		return nil, err
	}
	switch f.Type {
	case "text":
		return nil, nil
	case "json_schema":
		if f.Name == "" {
			return nil, invalid("text.format.name is required")
		}
		if !jsonObject(f.Schema) {
			return nil, invalid("text.format.schema must be a JSON object")
		}
		return &f, nil
	case "json_object":
		return &f, nil
	}
	return nil, unsupported("text.format.type", "%q is not translated", f.Type)
}

// readResponsesInput reads input: a string (one user message) or an array
// of items.
func readResponsesInput(raw json.RawMessage) ([]rsTurn, error) {
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid("input: %v", err)
		}
		return []rsTurn{{kind: rsUser, path: "input.", str: &s}}, nil
	case '[':
	case 0, 'n':
		if isNull(raw) {
			return nil, invalid("input is required")
		}
		fallthrough
	default:
		return nil, invalid("input must be a string or an array of items")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, invalid("input: %v", err)
	}
	turns := make([]rsTurn, 0, len(raws))
	for i, item := range raws {
		path := fmt.Sprintf("input[%d].", i)
		if firstByte(item) != '{' {
			return nil, invalid("%s must be an object", trimDot(path))
		}
		typ := blockType(item)
		var turn rsTurn
		var err error
		switch {
		case typ == "item_reference" || typ == "" && Member(item, "id") != nil && Member(item, "role") == nil:
			// An item reference's type may be left out: {"id":…} is one.
			return nil, unsupported(path+"type", "an item reference names an item stored by OpenAI, which another provider cannot read; send the item itself")
		case typ == "message" || typ == "":
			turn, err = readMessageItem(item, path)
		case typ == "function_call":
			turn, err = readFunctionCallItem(item, path)
		case typ == "function_call_output":
			turn, err = readFunctionOutputItem(item, path)
		case typ == "reasoning":
			continue // earlier private reasoning: dropped, see the translators' Request
		default:
			return nil, unsupported(path+"type", "%q items are not translated", typ)
		}
		if err != nil {
			return nil, err
		}
		turns = append(turns, turn)
	}
	return turns, nil
}

// readMessageItem reads a message of any role. Text parts are text
// whichever role holds them (input_text and output_text); a refusal is what
// an assistant said; images go in user messages only, as in chat
// completions and Messages.
func readMessageItem(raw json.RawMessage, path string) (rsTurn, error) {
	var m rsMessageItem
	if err := decodeStrict(raw, &m, path); err != nil {
		return rsTurn{}, err
	}
	turn := rsTurn{path: path}
	switch m.Role {
	case "user":
		turn.kind = rsUser
	case "system", "developer":
		turn.kind = rsSystem
	case "assistant":
		turn.kind = rsAssistant
	default:
		return rsTurn{}, invalid("%srole %q is not user, assistant, system or developer", path, m.Role)
	}
	var err error
	turn.str, turn.parts, err = readContent(m.Content, path+"content", turn.kind)
	return turn, err
}

// readContent reads a message's content or a function call's output: a
// string, or an array of parts.
func readContent(raw json.RawMessage, path string, kind rsTurnKind) (*string, []rsContent, error) {
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, nil, invalid("%s: %v", path, err)
		}
		return &s, nil, nil
	case '[':
	default:
		return nil, nil, invalid("%s must be a string or an array of parts", path)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, nil, invalid("%s: %v", path, err)
	}
	parts := make([]rsContent, 0, len(raws))
	for j, pr := range raws {
		ppath := fmt.Sprintf("%s[%d].", path, j)
		switch typ := blockType(pr); typ {
		case "input_text", "output_text", "refusal", "input_image":
		case "input_file":
			return nil, nil, unsupported(ppath+"type", "file inputs are not translated")
		default:
			return nil, nil, unsupported(ppath+"type", "%q parts are not translated", typ)
		}
		var p rsPart
		if err := decodeStrict(pr, &p, ppath); err != nil {
			return nil, nil, err
		}
		c := rsContent{path: ppath}
		switch p.Type {
		case "input_text", "output_text":
			if p.Text == nil {
				return nil, nil, invalid("%stext is required", ppath)
			}
			c.text = *p.Text
		case "refusal":
			if kind != rsAssistant {
				return nil, nil, invalid("%stype refusal is only valid in assistant messages", ppath)
			}
			if p.Refusal == nil {
				return nil, nil, invalid("%srefusal is required", ppath)
			}
			c.text = *p.Refusal
		case "input_image":
			switch {
			case kind == rsSystem || kind == rsAssistant:
				return nil, nil, unsupported(ppath+"type", "images are translated in user messages and function outputs only")
			case p.FileID != nil && *p.FileID != "":
				return nil, nil, unsupported(ppath+"file_id", "files uploaded to OpenAI cannot be read by another provider; send the image as a data or http(s) URL")
			case p.ImageURL == nil || *p.ImageURL == "":
				return nil, nil, invalid("%simage_url is required", ppath)
			}
			c.image, c.text = true, *p.ImageURL
			if p.Detail != nil {
				c.detail = *p.Detail
			}
		}
		parts = append(parts, c)
	}
	return nil, parts, nil
}

// readFunctionCallItem reads an earlier function call.
func readFunctionCallItem(raw json.RawMessage, path string) (rsTurn, error) {
	var c rsFunctionCallItem
	if err := decodeStrict(raw, &c, path); err != nil {
		return rsTurn{}, err
	}
	if c.CallID == "" || c.Name == "" {
		return rsTurn{}, invalid("%scall_id and name are required", path)
	}
	if err := checkCaller(c.Namespace, c.Caller, path); err != nil {
		return rsTurn{}, err
	}
	turn := rsTurn{kind: rsCall, path: path, callID: c.CallID, name: c.Name}
	if c.Arguments != nil {
		turn.args = *c.Arguments
	}
	return turn, nil
}

// readFunctionOutputItem reads a function call's output. Its name only
// repeats the call's, which call_id identifies.
func readFunctionOutputItem(raw json.RawMessage, path string) (rsTurn, error) {
	var o rsFunctionOutputItem
	if err := decodeStrict(raw, &o, path); err != nil {
		return rsTurn{}, err
	}
	if o.CallID == nil || *o.CallID == "" {
		return rsTurn{}, invalid("%scall_id is required", path)
	}
	if err := checkCaller(o.Namespace, o.Caller, path); err != nil {
		return rsTurn{}, err
	}
	turn := rsTurn{kind: rsOutput, path: path, callID: *o.CallID}
	var err error
	turn.str, turn.parts, err = readContent(o.Output, path+"output", rsOutput)
	return turn, err
}

// checkCaller refuses calls of namespaced tools and calls made by OpenAI's
// programmatic tool calling, neither of which the tools translate.
func checkCaller(namespace *string, caller json.RawMessage, path string) error {
	if namespace != nil && *namespace != "" {
		return unsupported(path+"namespace", "namespaced tools are not translated")
	}
	if !isNull(caller) && blockType(caller) != "direct" {
		return unsupported(path+"caller", "calls made by OpenAI's programmatic tool calling are not translated")
	}
	return nil
}

// responsesEcho renders what a response object repeats of the request, with
// the defaults the API reports for what the request left out. The request
// values are compacted: they go into single-line stream events.
func responsesEcho(req *rsRequest, format json.RawMessage) ([]byte, error) {
	e := rsEcho{
		Instructions:      req.Instructions,
		MaxOutputTokens:   req.MaxOutputTokens,
		MaxToolCalls:      req.MaxToolCalls,
		Metadata:          req.Metadata,
		ParallelToolCalls: req.ParallelToolCalls == nil || *req.ParallelToolCalls,
		Temperature:       1,
		Text:              rsEchoText{Format: format, Verbosity: "medium"},
		ToolChoice:        req.ToolChoice,
		TopP:              1,
		Truncation:        "disabled",
	}
	if isNull(e.Metadata) {
		e.Metadata = json.RawMessage("{}")
	}
	if req.Temperature != nil {
		e.Temperature = *req.Temperature
	}
	if req.TopP != nil {
		e.TopP = *req.TopP
	}
	if isNull(e.Text.Format) {
		e.Text.Format = json.RawMessage(`{"type":"text"}`)
	}
	if req.Text != nil && req.Text.Verbosity != nil {
		e.Text.Verbosity = *req.Text.Verbosity
	}
	if isNull(e.ToolChoice) {
		e.ToolChoice = json.RawMessage(`"auto"`)
	}
	tools := []byte{'['}
	for i, raw := range req.Tools {
		if i > 0 {
			tools = append(tools, ',')
		}
		tools = append(tools, raw...)
	}
	e.Tools = append(tools, ']')
	if req.TopLogprobs != nil {
		e.TopLogprobs = *req.TopLogprobs
	}
	if req.Truncation != nil {
		e.Truncation = *req.Truncation
	}
	if r := req.Reasoning; r != nil {
		e.Reasoning = rsEchoReasoning{Effort: r.Effort, Summary: r.Summary}
	}
	b, err := appendJSON(nil, e)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return b[1 : len(b)-1], nil
}

// defaultEcho is the echo of an empty request, for responses translated
// without one.
var defaultEcho = func() []byte {
	b, err := responsesEcho(&rsRequest{}, nil)
	if err != nil {
		panic(err)
	}
	return b
}()
