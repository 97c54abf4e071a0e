package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/afterhours-go/afterhours"
)

// problems collects validation problems with their paths, each once.
type problems struct {
	list []afterhours.Problem
	seen map[afterhours.Problem]bool
}

func (ps *problems) add(path, format string, args ...any) {
	ps.addProblem(afterhours.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) addProblem(p afterhours.Problem) {
	if ps.seen == nil {
		ps.seen = map[afterhours.Problem]bool{}
	}
	if ps.seen[p] {
		return // two profiles of the fleet found the same problem
	}
	ps.seen[p] = true
	ps.list = append(ps.list, p)
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &afterhours.ValidationError{Problems: ps.list}
}

// field is one member of a JSON object, its value as written.
type field struct {
	key   string
	value json.RawMessage
}

// object is a JSON object's members in the order written, each key once.
type object []field

func (o object) get(key string) (json.RawMessage, bool) {
	for _, f := range o {
		if f.key == key {
			return f.value, true
		}
	}
	return nil, false
}

// marshal writes the object back, members in their order.
func (o object) marshal() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(f.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// readObject reads the members of the JSON object data, whose path is path,
// compacted. A key repeated is a problem (JSON leaves its meaning open), and
// only its first value is kept; a key not in known is a problem too (known
// nil accepts every key). It reports false, with a problem, when data is
// not an object.
func readObject(ps *problems, path string, data json.RawMessage, known []string) (object, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		ps.add(path, "want an object")
		return nil, false
	}
	var o object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			ps.add(path, "invalid JSON: %v", err)
			return nil, false
		}
		key := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			ps.add(join(path, key), "invalid JSON: %v", err)
			return nil, false
		}
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			ps.add(join(path, key), "invalid JSON: %v", err)
			return nil, false
		}
		switch {
		case o.has(key):
			ps.add(join(path, key), "key repeated in one object")
		case known != nil && !slices.Contains(known, key):
			ps.add(join(path, key), "unknown field")
		default:
			o = append(o, field{key, c.Bytes()})
		}
	}
	return o, true
}

func (o object) has(key string) bool {
	_, ok := o.get(key)
	return ok
}

// readArray reads the elements of the JSON array data; null is no
// elements. It reports false, with a problem, when data is neither.
func readArray(ps *problems, path string, data json.RawMessage) ([]json.RawMessage, bool) {
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		ps.add(path, "want an array")
		return nil, false
	}
	return list, true
}

// readValue decodes data into v, reporting a value of the wrong type at
// path with what was wanted.
func readValue(ps *problems, path string, data json.RawMessage, v any, want string) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		ps.add(path, "want %s", want)
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		ps.add(path, "want %s", want)
		return false
	}
	return true
}

func isNull(data json.RawMessage) bool { return len(data) == 0 || string(data) == "null" }

// join appends a member's name to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping rewrites the paths of a composed profile into the paths of the
// config its parts came from: each profile path prefix (a section, or an
// element of one) to the config path it was copied from.
type mapping map[string]string

// path maps one profile path, by its longest mapped prefix. A path with
// no mapped prefix is a problem of the composition itself: the caller
// prefixes it with what was composed.
func (m mapping) path(p string) (string, bool) {
	best := ""
	for k := range m {
		if len(k) > len(best) && (p == k || strings.HasPrefix(p, k+".") || strings.HasPrefix(p, k+"[")) {
			best = k
		}
	}
	if best == "" {
		return p, false
	}
	return m[best] + p[len(best):], true
}

// alreadyUsed is how the profile's validation names the first use of a
// repeated task name: the path after it is a profile path too.
const alreadyUsed = " already used at "

// problem maps one problem of the composed profile, whose composition
// is named by what.
func (m mapping) problem(p afterhours.Problem, what string) afterhours.Problem {
	path, ok := m.path(p.Path)
	msg := p.Message
	if before, after, found := strings.Cut(msg, alreadyUsed); found {
		first, rest, _ := strings.Cut(after, ":")
		if mp, ok := m.path(first); ok {
			msg = before + alreadyUsed + mp
			if rest != "" || strings.Contains(after, ":") {
				msg += ":" + rest
			}
		}
	}
	if !ok {
		msg = fmt.Sprintf("in %s: %s", what, msg)
	}
	return afterhours.Problem{Path: path, Message: msg}
}
