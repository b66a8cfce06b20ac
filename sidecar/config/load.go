package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, defaults and validates a config file (YAML or JSON).
func Load(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	return c, nil
}

// Parse decodes a config document (YAML or JSON: JSON is YAML), fills the
// defaults and validates it. A field the schema does not know is an error, not
// silently ignored: a typo such as "atempts" would otherwise drop a setting.
// Every problem is reported at once, each naming its field.
func Parse(data []byte) (*Config, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	if doc == nil {
		return nil, errors.New("the document is empty")
	}
	var errs []error
	checkShape(doc, reflect.TypeFor[Config](), "", &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// The shape is right, so this round trip cannot fail on types or names.
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("convert to JSON: %w", err)
	}
	var c Config
	if err := json.Unmarshal(js, &c); err != nil {
		return nil, err
	}
	c.Default()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var durationType = reflect.TypeFor[Duration]()

// checkShape compares a decoded document with the Go type it must fill and
// reports unknown fields and wrong kinds by field path, which encoding/json
// cannot do.
func checkShape(v any, t reflect.Type, path string, errs *[]error) {
	bad := func(format string, args ...any) {
		field := path
		if field == "" {
			field = "(document)"
		}
		*errs = append(*errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // null leaves the default
	}
	switch {
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			bad("want a duration string such as \"2s\", got %v", v)
			return
		}
		if err := new(Duration).UnmarshalJSON([]byte(fmt.Sprintf("%q", s))); err != nil {
			bad("%v", err)
		}
	case t.Kind() == reflect.Struct:
		m, ok := stringMap(v)
		if !ok {
			bad("want an object, got %v", describe(v))
			return
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(m) {
			f, known := fields[k]
			if !known {
				bad("unknown field %q (known: %s)", k, strings.Join(sortedKeys(fields), ", "))
				continue
			}
			checkShape(m[k], f.Type, join(path, k), errs)
		}
	case t.Kind() == reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			bad("want a list, got %v", describe(v))
			return
		}
		for i, item := range items {
			checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case t.Kind() == reflect.Map:
		m, ok := stringMap(v)
		if !ok {
			bad("want an object, got %v", describe(v))
			return
		}
		for _, k := range sortedKeys(m) {
			checkShape(m[k], t.Elem(), join(path, k), errs)
		}
	case t.Kind() == reflect.String:
		if _, ok := v.(string); !ok {
			bad("want a string, got %v (quote it)", describe(v))
		}
	case t.Kind() == reflect.Bool:
		if _, ok := v.(bool); !ok {
			bad("want true or false, got %v", describe(v))
		}
	case t.Kind() == reflect.Int:
		if f, ok := number(v); !ok || f != math.Trunc(f) {
			bad("want a whole number, got %v", describe(v))
		}
	case t.Kind() == reflect.Float64:
		if _, ok := number(v); !ok {
			bad("want a number, got %v", describe(v))
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func stringMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func describe(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%v", v)
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = f
		}
	}
	return fields
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
