package afterhours

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// ParseProfile decodes a profile from JSON, strictly, validates it and
// compiles it. Every problem is reported, each with its field path, in one
// *ValidationError: unknown fields, keys repeated in one object (at any
// depth: JSON leaves their meaning open and encoding/json would silently
// keep the last), values of the wrong JSON type, bad durations, times,
// dates and zones, and everything [Profile.Validate] checks.
//
// A top-level "$schema" string, which editors use to find the JSON Schema
// of a document, is accepted and ignored; it is no field of [Profile].
// [ProfileSchema] returns the profile's JSON Schema.
func ParseProfile(data []byte) (*Profile, error) {
	var ps problems
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tree, err := decodeTree(&ps, dec, "", 0)
	if err != nil {
		ps.list = ps.list[:0] // problems of half a document would mislead
		ps.add("", "invalid JSON: %v", err)
		return nil, ps.err()
	}
	if _, err := dec.Token(); err != io.EOF {
		ps.list = ps.list[:0]
		ps.add("", "invalid JSON: data after the profile")
		return nil, ps.err()
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		ps.list = ps.list[:0]
		ps.add("", "a profile is a JSON object")
		return nil, ps.err()
	}
	if schema, ok := obj[schemaKey]; ok {
		if _, ok := schema.(string); !ok {
			ps.add(schemaKey, "want a string: the address of the profile's JSON Schema")
		}
		delete(obj, schemaKey)
	}
	tree = check(&ps, "", tree, reflect.TypeFor[Profile]())
	// The checked tree now holds only known fields of the right types, so
	// decoding it cannot fail; it fills the fields that were good.
	clean, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("afterhours: re-encode profile: %w", err)
	}
	p := new(Profile)
	if err := json.Unmarshal(clean, p); err != nil {
		return nil, fmt.Errorf("afterhours: decode profile: %w", err)
	}
	p.compile(&ps)
	if err := ps.err(); err != nil {
		p.validated = false
		return nil, err
	}
	return p, nil
}

// schemaKey is the top-level key that names a document's JSON Schema.
const schemaKey = "$schema"

// maxDepth bounds how deeply JSON values may nest. A profile needs five
// levels; the bound keeps hostile input from growing the stack.
const maxDepth = 64

// decodeTree reads the next JSON value from dec as encoding/json decodes
// into an any (objects as map[string]any, numbers as json.Number), and
// reports every key repeated within one object at its path, keeping the
// first value. It reads token by token because a map cannot tell that a
// key came twice.
func decodeTree(ps *problems, dec *json.Decoder, path string, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // a string, json.Number, bool or nil
	}
	if depth == maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	switch delim {
	case '{':
		obj := map[string]any{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := tok.(string) // the decoder takes nothing else for a key
			kp := join(path, key)
			v, err := decodeTree(ps, dec, kp, depth+1)
			if err != nil {
				return nil, err
			}
			if _, dup := obj[key]; dup {
				ps.add(kp, "duplicate key: a key may appear once in an object")
				continue
			}
			obj[key] = v
		}
		_, err = dec.Token() // '}'
		return obj, err
	default: // '['
		arr := []any{}
		for i := 0; dec.More(); i++ {
			v, err := decodeTree(ps, dec, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err = dec.Token() // ']'
		return arr, err
	}
}

var (
	durationType = reflect.TypeFor[Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
)

// check walks a decoded JSON value against the Go type it will be decoded
// into, reports what does not fit, and returns the value without it: nil
// for a value that does not fit at all.
func check(ps *problems, path string, v any, t reflect.Type) any {
	if v == nil {
		return nil // null leaves the zero value
	}
	if t == durationType {
		s, ok := v.(string)
		if !ok {
			ps.add(path, "want a duration string such as \"20m\"")
			return nil
		}
		if _, err := parseDuration(s); err != nil {
			ps.add(path, "%v", err)
			return nil
		}
		return v
	}
	if t == byteSizeType {
		if err := checkByteSize(v); err != nil {
			ps.add(path, "%v", err)
			return nil
		}
		return v
	}
	switch t.Kind() {
	case reflect.Pointer:
		return check(ps, path, v, t.Elem())
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			ps.add(path, "want an object")
			return nil
		}
		fields := jsonFields(t)
		keys := sortedKeys(obj)
		for _, k := range keys {
			fp := join(path, k)
			ft, known := fields[k]
			switch {
			case known:
				if v := check(ps, fp, obj[k], ft); v != nil {
					obj[k] = v
				} else {
					// A bad value leaves the field's zero value, as a
					// missing one does; its problem is reported.
					delete(obj, k)
				}
			default:
				ps.add(fp, "unknown field")
				delete(obj, k)
			}
		}
		return obj
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			ps.add(path, "want an array")
			return nil
		}
		for i := range arr {
			arr[i] = check(ps, fmt.Sprintf("%s[%d]", path, i), arr[i], t.Elem())
		}
		return arr
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			ps.add(path, "want an object")
			return nil
		}
		for _, k := range sortedKeys(obj) {
			obj[k] = check(ps, join(path, k), obj[k], t.Elem())
		}
		return obj
	case reflect.String:
		if _, ok := v.(string); !ok {
			ps.add(path, "want a string")
			return nil
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			ps.add(path, "want true or false")
			return nil
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			ps.add(path, "want a number")
			return nil
		}
		if _, err := n.Float64(); err != nil {
			ps.add(path, "want a number, not %s", n)
			return nil
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if !ok {
			ps.add(path, "want a number")
			return nil
		}
		if i, err := n.Int64(); err != nil || i != int64(int32(i)) {
			ps.add(path, "want a whole number, not %s", n)
			return nil
		}
	}
	return v
}

// jsonFields maps the JSON names of a struct's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		m[name] = f.Type
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
