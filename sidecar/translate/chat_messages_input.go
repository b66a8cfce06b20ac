package translate

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The messages array of a chat completions request, as Anthropic turns.

// turnBuilder collects Anthropic turns, merging consecutive turns of one
// role: Anthropic wants alternating turns, and OpenAI's tool messages, each
// its own message, become tool_result blocks of one user turn.
type turnBuilder struct {
	roles  []string
	blocks [][]anOutBlock
}

func (b *turnBuilder) add(role string, blocks []anOutBlock) {
	if len(blocks) == 0 {
		return
	}
	if n := len(b.roles); n > 0 && b.roles[n-1] == role {
		b.blocks[n-1] = append(b.blocks[n-1], blocks...)
		return
	}
	b.roles = append(b.roles, role)
	b.blocks = append(b.blocks, blocks)
}

func (b *turnBuilder) messages() []anOutMessage {
	msgs := make([]anOutMessage, len(b.roles))
	for i, role := range b.roles {
		blocks := b.blocks[i]
		if role == "user" {
			// Anthropic wants a user turn's tool results before its text.
			blocks = toolResultsFirst(blocks)
		}
		msgs[i] = anOutMessage{Role: role, Content: blocksOrString(blocks)}
	}
	return msgs
}

func toolResultsFirst(blocks []anOutBlock) []anOutBlock {
	sorted := true
	seenOther := false
	for _, b := range blocks {
		if b.Type != "tool_result" {
			seenOther = true
		} else if seenOther {
			sorted = false
			break
		}
	}
	if sorted {
		return blocks
	}
	out := make([]anOutBlock, 0, len(blocks))
	for _, b := range blocks {
		if b.Type == "tool_result" {
			out = append(out, b)
		}
	}
	for _, b := range blocks {
		if b.Type != "tool_result" {
			out = append(out, b)
		}
	}
	return out
}

// blocksOrString writes a lone plain text block as a string, Anthropic's
// shorthand for it.
func blocksOrString(blocks []anOutBlock) any {
	if len(blocks) == 1 && blocks[0].Type == "text" && blocks[0].CacheControl == nil {
		return *blocks[0].Text
	}
	return blocks
}

// anthropicMessages converts the messages array. System and developer
// messages, wherever they are, become the top-level system prompt, in order.
func anthropicMessages(raws []json.RawMessage) (system any, msgs []anOutMessage, err error) {
	var sys []anOutBlock
	var turns turnBuilder
	for i, raw := range raws {
		path := fmt.Sprintf("messages[%d].", i)
		var m oaMessage
		if err := decodeStrict(raw, &m, path); err != nil {
			return nil, nil, err
		}
		if err := checkMessageFields(&m, path); err != nil {
			return nil, nil, err
		}
		switch m.Role {
		case "system", "developer":
			blocks, err := textBlocks(m.Content, path)
			if err != nil {
				return nil, nil, err
			}
			sys = append(sys, blocks...)
		case "user":
			blocks, err := userBlocks(m.Content, path)
			if err != nil {
				return nil, nil, err
			}
			turns.add("user", blocks)
		case "assistant":
			blocks, err := assistantBlocks(&m, path)
			if err != nil {
				return nil, nil, err
			}
			turns.add("assistant", blocks)
		case "tool":
			if m.ToolCallID == nil || *m.ToolCallID == "" {
				return nil, nil, invalid("%stool_call_id is required", path)
			}
			content, err := toolResultContent(m.Content, path)
			if err != nil {
				return nil, nil, err
			}
			turns.add("user", []anOutBlock{{Type: "tool_result", ToolUseID: sanitizeToolID(*m.ToolCallID), Content: content}})
		case "function":
			return nil, nil, unsupported(path+"role", "the deprecated function role is not translated; use tool")
		default:
			return nil, nil, invalid("%srole %q is not a chat completions role", path, m.Role)
		}
	}
	switch {
	case len(sys) == 1 && sys[0].CacheControl == nil:
		system = *sys[0].Text
	case len(sys) > 0:
		system = sys
	}
	return system, turns.messages(), nil
}

// checkMessageFields refuses fields set on a role that does not have them,
// and the assistant fields that are not translated.
func checkMessageFields(m *oaMessage, path string) error {
	if m.Role != "assistant" {
		switch {
		case len(m.ToolCalls) > 0:
			return invalid("%stool_calls is only valid on assistant messages", path)
		case m.Refusal != nil:
			return invalid("%srefusal is only valid on assistant messages", path)
		}
	}
	if m.Role != "tool" && m.ToolCallID != nil {
		return invalid("%stool_call_id is only valid on tool messages", path)
	}
	switch {
	case !isNull(m.Audio):
		return unsupported(path+"audio", "earlier audio answers cannot be sent to Anthropic")
	case !isNull(m.FunctionCall):
		return unsupported(path+"function_call", "the deprecated functions API is not translated; use tool_calls")
	}
	return nil
}

// contentParts reads a content value: a string (text), an array of parts,
// or null. Parts are decoded strictly, each with its own path.
func contentParts(raw json.RawMessage, path string) (text *string, parts []oaPart, err error) {
	switch firstByte(raw) {
	case 0, 'n':
		if !isNull(raw) {
			return nil, nil, invalid("%scontent must be a string or an array", path)
		}
		return nil, nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, nil, invalid("%scontent: %v", path, err)
		}
		return &s, nil, nil
	case '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(raw, &raws); err != nil {
			return nil, nil, invalid("%scontent: %v", path, err)
		}
		parts = make([]oaPart, len(raws))
		for j, pr := range raws {
			if err := decodeStrict(pr, &parts[j], fmt.Sprintf("%scontent[%d].", path, j)); err != nil {
				return nil, nil, err
			}
		}
		return nil, parts, nil
	}
	return nil, nil, invalid("%scontent must be a string or an array", path)
}

func textBlock(s string, cacheControl json.RawMessage) anOutBlock {
	return anOutBlock{Type: "text", Text: &s, CacheControl: cacheControl}
}

// textBlocks reads content that may hold text only (system, developer and
// tool messages). Empty text is left out: Anthropic refuses empty text
// blocks, and they say nothing.
func textBlocks(raw json.RawMessage, path string) ([]anOutBlock, error) {
	text, parts, err := contentParts(raw, path)
	if err != nil {
		return nil, err
	}
	if text != nil {
		if *text == "" {
			return nil, nil
		}
		return []anOutBlock{textBlock(*text, nil)}, nil
	}
	blocks := make([]anOutBlock, 0, len(parts))
	for j, p := range parts {
		ppath := fmt.Sprintf("%scontent[%d].", path, j)
		if p.Type != "text" {
			return nil, unsupported(ppath+"type", "only text parts are allowed here, not %q", p.Type)
		}
		if p.Text == nil {
			return nil, invalid("%stext is required", ppath)
		}
		if *p.Text != "" {
			blocks = append(blocks, textBlock(*p.Text, p.CacheControl))
		}
	}
	return blocks, nil
}

// userBlocks reads a user message's content: text and image parts.
func userBlocks(raw json.RawMessage, path string) ([]anOutBlock, error) {
	text, parts, err := contentParts(raw, path)
	if err != nil {
		return nil, err
	}
	if text != nil {
		if *text == "" {
			return nil, nil
		}
		return []anOutBlock{textBlock(*text, nil)}, nil
	}
	blocks := make([]anOutBlock, 0, len(parts))
	for j, p := range parts {
		ppath := fmt.Sprintf("%scontent[%d].", path, j)
		switch p.Type {
		case "text":
			if p.Text == nil {
				return nil, invalid("%stext is required", ppath)
			}
			if *p.Text != "" {
				blocks = append(blocks, textBlock(*p.Text, p.CacheControl))
			}
		case "image_url":
			if p.ImageURL == nil {
				return nil, invalid("%simage_url is required", ppath)
			}
			src, err := imageSource(p.ImageURL.URL, ppath+"image_url.url")
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, anOutBlock{Type: "image", Source: src, CacheControl: p.CacheControl})
		case "input_audio":
			return nil, unsupported(ppath+"type", "Anthropic does not accept audio input")
		case "file":
			return nil, unsupported(ppath+"type", "file parts are not translated")
		default:
			return nil, unsupported(ppath+"type", "%q parts are not translated", p.Type)
		}
	}
	return blocks, nil
}

// anthropicImageTypes are the media types Anthropic accepts for base64
// images.
var anthropicImageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

// imageSource maps an image_url: a base64 data URL becomes a base64 source,
// an http(s) URL a url source that Anthropic fetches itself.
func imageSource(url, path string) (*anSource, error) {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isBase64 {
			return nil, unsupported(path, "only base64 data URLs can be sent to Anthropic")
		}
		if !anthropicImageTypes[mediaType] {
			return nil, unsupported(path, "Anthropic accepts JPEG, PNG, GIF and WebP images, not %q", mediaType)
		}
		return &anSource{Type: "base64", MediaType: mediaType, Data: data}, nil
	}
	lower := strings.ToLower(url)
	if strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
		return &anSource{Type: "url", URL: url}, nil
	}
	return nil, invalid("%s must be an http(s) or data URL", path)
}

// assistantBlocks reads an assistant message: its text (and refusal, which
// is what the assistant said) and its tool calls.
func assistantBlocks(m *oaMessage, path string) ([]anOutBlock, error) {
	text, parts, err := contentParts(m.Content, path)
	if err != nil {
		return nil, err
	}
	var blocks []anOutBlock
	if text != nil && *text != "" {
		blocks = append(blocks, textBlock(*text, nil))
	}
	for j, p := range parts {
		ppath := fmt.Sprintf("%scontent[%d].", path, j)
		switch p.Type {
		case "text":
			if p.Text == nil {
				return nil, invalid("%stext is required", ppath)
			}
			if *p.Text != "" {
				blocks = append(blocks, textBlock(*p.Text, p.CacheControl))
			}
		case "refusal":
			if p.Refusal != nil && *p.Refusal != "" {
				blocks = append(blocks, textBlock(*p.Refusal, nil))
			}
		default:
			return nil, unsupported(ppath+"type", "assistant messages hold text and refusal parts, not %q", p.Type)
		}
	}
	if m.Refusal != nil && *m.Refusal != "" {
		blocks = append(blocks, textBlock(*m.Refusal, nil))
	}
	for k, call := range m.ToolCalls {
		cpath := fmt.Sprintf("%stool_calls[%d].", path, k)
		if call.Type != "function" || call.Function == nil {
			return nil, unsupported(cpath+"type", "only function tool calls are translated")
		}
		if call.ID == "" || call.Function.Name == "" {
			return nil, invalid("%sid and function.name are required", cpath)
		}
		args := call.Function.Arguments
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		if !jsonObject([]byte(args)) {
			return nil, invalid("%sfunction.arguments is not a JSON object", cpath)
		}
		blocks = append(blocks, anOutBlock{
			Type:  "tool_use",
			ID:    sanitizeToolID(call.ID),
			Name:  call.Function.Name,
			Input: json.RawMessage(args),
		})
	}
	return blocks, nil
}

// toolResultContent reads a tool message's content for a tool_result block:
// a string stays a string, text parts become text blocks.
func toolResultContent(raw json.RawMessage, path string) (any, error) {
	text, parts, err := contentParts(raw, path)
	if err != nil {
		return nil, err
	}
	if text != nil {
		return *text, nil
	}
	if parts == nil {
		return "", nil
	}
	blocks, err := textBlocks(raw, path)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return "", nil
	}
	return blocks, nil
}
