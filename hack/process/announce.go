package process

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Announcement is the line in which a child started on port 0 says what it
// bound: reading it back is what makes the port the child's alone.
type Announcement struct {
	// What names the line in errors: `the "llmroute-sidecar serving" log line`.
	What string
	// Parse returns the addresses the line names (host:port), and whether
	// it is the line at all.
	Parse func(line string) (addrs []string, ok bool)
}

// ListeningOn announces with a line that starts with prefix and ends with
// the address, as in "mockllm NAME listening on 127.0.0.1:40123".
func ListeningOn(prefix string) Announcement {
	return Announcement{
		What: fmt.Sprintf("a %q line", prefix+" ADDR"),
		Parse: func(line string) ([]string, bool) {
			rest, ok := strings.CutPrefix(line, prefix)
			if !ok {
				return nil, false
			}
			f := strings.Fields(rest)
			if len(f) == 0 || !isAddr(f[len(f)-1]) {
				return nil, false
			}
			return []string{f[len(f)-1]}, true
		},
	}
}

// Logged announces with a log record whose message is msg: the addresses
// are the values of keys, in their order. The record may be written by
// log/slog's JSON or text handler or by zap's JSON encoder (LogFields).
func Logged(msg string, keys ...string) Announcement {
	return Announcement{
		What: fmt.Sprintf("the %q log line with %s", msg, strings.Join(keys, " and ")),
		Parse: func(line string) ([]string, bool) {
			if !strings.Contains(line, msg) {
				return nil, false // most lines: skip the parse
			}
			f, ok := LogFields(line)
			if !ok || f["msg"] != msg {
				return nil, false
			}
			addrs := make([]string, len(keys))
			for i, k := range keys {
				if addrs[i] = f[k]; !isAddr(addrs[i]) {
					return nil, false
				}
			}
			return addrs, true
		},
	}
}

// LogFields reads one structured log record: a JSON object (log/slog's
// JSONHandler, zap's JSON encoder) or key=value pairs with Go-quoted values
// (slog's TextHandler). Values that are not strings keep their JSON text.
// ok is false for a line that is neither, or has no "msg".
func LogFields(line string) (fields map[string]string, ok bool) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "{") {
		fields, ok = jsonFields(line)
	} else {
		fields, ok = textFields(line)
	}
	if !ok {
		return nil, false
	}
	if _, ok := fields["msg"]; !ok {
		return nil, false
	}
	return fields, true
}

func jsonFields(line string) (map[string]string, bool) {
	var raw map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &raw) != nil {
		return nil, false
	}
	f := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			f[k] = s
		} else {
			f[k] = string(v)
		}
	}
	return f, true
}

func textFields(line string) (map[string]string, bool) {
	f := map[string]string{}
	for s := line; s != ""; s = strings.TrimLeft(s, " ") {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \"") {
			return nil, false
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, false
			}
			v, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		f[k] = v
		s = rest
	}
	return f, true
}

func isAddr(s string) bool {
	_, port, err := net.SplitHostPort(s)
	return err == nil && port != "" && port != "0"
}
