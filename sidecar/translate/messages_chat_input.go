package translate

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The system prompt and messages of a Messages request, as chat completions
// messages.

// openAISystem turns the system prompt into a leading system message: one
// string, or text parts when it has several blocks.
func openAISystem(raw json.RawMessage) (*oaOutMessage, error) {
	switch firstByte(raw) {
	case 0, 'n':
		if !isNull(raw) {
			return nil, invalid("system must be a string or an array of text blocks")
		}
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid("system: %v", err)
		}
		return &oaOutMessage{Role: "system", Content: s}, nil
	}
	parts, err := textParts(raw, "system")
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, nil
	}
	return &oaOutMessage{Role: "system", Content: partsOrString(parts)}, nil
}

// textParts reads an array of text blocks (a system prompt, or a tool
// result's content).
func textParts(raw json.RawMessage, path string) ([]oaOutPart, error) {
	blocks, err := anthropicBlocks(raw, path)
	if err != nil {
		return nil, err
	}
	parts := make([]oaOutPart, 0, len(blocks))
	for j, b := range blocks {
		if b.Type != "text" {
			return nil, unsupported(fmt.Sprintf("%s[%d].type", path, j), "only text blocks are translated here, not %q", b.Type)
		}
		parts = append(parts, oaOutPart{Type: "text", Text: b.Text})
	}
	return parts, nil
}

// partsOrString writes a lone text part as a plain string.
func partsOrString(parts []oaOutPart) any {
	if len(parts) == 1 && parts[0].Type == "text" {
		return *parts[0].Text
	}
	return parts
}

// anthropicBlocks decodes an array of content blocks strictly, refusing by
// type the block types this package does not translate.
func anthropicBlocks(raw json.RawMessage, path string) ([]anBlock, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, invalid("%s must be a string or an array of content blocks", path)
	}
	blocks := make([]anBlock, len(raws))
	for j, br := range raws {
		bpath := fmt.Sprintf("%s[%d].", path, j)
		switch typ := blockType(br); typ {
		case "text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking":
		case "document":
			return nil, unsupported(bpath+"type", "document blocks are not translated")
		default:
			return nil, unsupported(bpath+"type", "%q blocks are not translated", typ)
		}
		if err := decodeStrict(br, &blocks[j], bpath); err != nil {
			return nil, err
		}
		if blocks[j].Type == "text" && blocks[j].Text == nil {
			return nil, invalid("%stext is required", bpath)
		}
		if !isNull(blocks[j].ToolsetName) {
			return nil, unsupported(bpath+"toolset_name", "Anthropic-defined toolsets are not translated")
		}
	}
	return blocks, nil
}

// appendOpenAIMessages converts one Anthropic message. A user turn's
// tool_result blocks become tool messages, placed before the rest of the
// turn so they directly follow the assistant's tool calls, as OpenAI requires.
func appendOpenAIMessages(msgs []oaOutMessage, raw json.RawMessage, path string) ([]oaOutMessage, error) {
	var m anMessage
	if err := decodeStrict(raw, &m, path); err != nil {
		return nil, err
	}
	if m.Role != "user" && m.Role != "assistant" && m.Role != "system" {
		return nil, invalid("%srole %q is not user or assistant", path, m.Role)
	}
	cpath := path + "content"
	switch firstByte(m.Content) {
	case '"':
		var s string
		if err := json.Unmarshal(m.Content, &s); err != nil {
			return nil, invalid("%s: %v", cpath, err)
		}
		return append(msgs, oaOutMessage{Role: m.Role, Content: s}), nil
	case '[':
	default:
		return nil, invalid("%s must be a string or an array of content blocks", cpath)
	}
	if m.Role == "system" {
		parts, err := textParts(m.Content, cpath)
		if err != nil {
			return nil, err
		}
		return append(msgs, oaOutMessage{Role: "system", Content: partsOrString(parts)}), nil
	}
	blocks, err := anthropicBlocks(m.Content, cpath)
	if err != nil {
		return nil, err
	}
	if m.Role == "assistant" {
		msg, err := openAIAssistant(blocks, cpath)
		if err != nil || msg == nil {
			return msgs, err
		}
		return append(msgs, *msg), nil
	}
	var parts []oaOutPart
	for j, b := range blocks {
		bpath := fmt.Sprintf("%s[%d].", cpath, j)
		switch b.Type {
		case "text":
			parts = append(parts, oaOutPart{Type: "text", Text: b.Text})
		case "image":
			url, err := imageURL(b.Source, bpath+"source")
			if err != nil {
				return nil, err
			}
			parts = append(parts, oaOutPart{Type: "image_url", ImageURL: &oaImageURL{URL: url}})
		case "tool_result":
			tm, err := toolMessage(&b, bpath)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, tm)
		default:
			return nil, unsupported(bpath+"type", "%q blocks belong in assistant turns", b.Type)
		}
	}
	if len(parts) > 0 {
		msgs = append(msgs, oaOutMessage{Role: "user", Content: partsOrString(parts)})
	}
	return msgs, nil
}

// imageURL maps an image source: base64 becomes a data URL, url stays.
func imageURL(raw json.RawMessage, path string) (string, error) {
	var src anSource
	if err := decodeStrict(raw, &src, path+"."); err != nil {
		return "", err
	}
	switch src.Type {
	case "base64":
		if src.MediaType == "" || src.Data == "" {
			return "", invalid("%s: media_type and data are required", path)
		}
		return "data:" + src.MediaType + ";base64," + src.Data, nil
	case "url":
		if src.URL == "" {
			return "", invalid("%s.url is required", path)
		}
		return src.URL, nil
	}
	return "", unsupported(path+".type", "%q image sources are not translated", src.Type)
}

// toolMessage turns a tool_result block into a tool message.
func toolMessage(b *anBlock, path string) (oaOutMessage, error) {
	if b.ToolUseID == "" {
		return oaOutMessage{}, invalid("%stool_use_id is required", path)
	}
	msg := oaOutMessage{Role: "tool", ToolCallID: b.ToolUseID}
	isError := b.IsError != nil && *b.IsError
	switch firstByte(b.Content) {
	case 0, 'n':
		msg.Content = ""
		if isError {
			msg.Content = "Error"
		}
	case '"':
		var s string
		if err := json.Unmarshal(b.Content, &s); err != nil {
			return msg, invalid("%scontent: %v", path, err)
		}
		if isError {
			s = "Error: " + s
		}
		msg.Content = s
	default:
		parts, err := textParts(b.Content, path+"content")
		if err != nil {
			var ue *UnsupportedError
			if errors.As(err, &ue) {
				ue.Reason = "OpenAI tool messages take text only"
			}
			return msg, err
		}
		if isError {
			e := "Error:"
			parts = append([]oaOutPart{{Type: "text", Text: &e}}, parts...)
		}
		if len(parts) == 0 {
			msg.Content = ""
		} else {
			msg.Content = partsOrString(parts)
		}
	}
	return msg, nil
}

// openAIAssistant turns an assistant turn into one assistant message: text
// blocks become the content, tool_use blocks the tool calls. It returns nil
// for a turn with nothing OpenAI can carry (only thinking).
func openAIAssistant(blocks []anBlock, path string) (*oaOutMessage, error) {
	var parts []oaOutPart
	var calls []oaToolCall
	for j, b := range blocks {
		bpath := fmt.Sprintf("%s[%d].", path, j)
		switch b.Type {
		case "text":
			parts = append(parts, oaOutPart{Type: "text", Text: b.Text})
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return nil, invalid("%sid and name are required", bpath)
			}
			if !isNull(b.Caller) && blockType(b.Caller) != "direct" {
				return nil, unsupported(bpath+"caller", "tool calls made by Anthropic's code execution are not translated")
			}
			input := b.Input
			if isNull(input) {
				input = json.RawMessage("{}")
			}
			if !jsonObject(input) {
				return nil, invalid("%sinput must be a JSON object", bpath)
			}
			calls = append(calls, oaToolCall{ID: b.ID, Type: "function", Function: &oaFunctionCall{Name: b.Name, Arguments: compactString(input)}})
		case "thinking", "redacted_thinking":
			// Earlier reasoning: dropped, see Request.
		default:
			return nil, unsupported(bpath+"type", "%q blocks are not translated", b.Type)
		}
	}
	if len(parts) == 0 && len(calls) == 0 {
		return nil, nil
	}
	msg := &oaOutMessage{Role: "assistant", ToolCalls: calls}
	if len(parts) > 0 {
		msg.Content = partsOrString(parts)
	}
	return msg, nil
}
