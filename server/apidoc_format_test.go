package server_test

import (
	"bytes"
	"encoding/json"
	"strings"
)

// jsonNode is a JSON value with its object keys in their order.
type jsonNode struct {
	kind byte // '{', '[' or 0 for a scalar
	raw  string
	keys []string
	vals []*jsonNode
}

func parseJSON(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		n := &jsonNode{kind: '{'}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := parseJSON(dec)
			if err != nil {
				return nil, err
			}
			n.keys, n.vals = append(n.keys, k.(string)), append(n.vals, v)
		}
		_, err := dec.Token()
		return n, err
	case json.Delim('['):
		n := &jsonNode{kind: '['}
		for dec.More() {
			v, err := parseJSON(dec)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		_, err := dec.Token()
		return n, err
	}
	raw, err := json.Marshal(tok)
	return &jsonNode{raw: string(raw)}, err
}

func (n *jsonNode) compact() string {
	switch n.kind {
	case '{':
		parts := make([]string, len(n.keys))
		for i, k := range n.keys {
			kb, _ := json.Marshal(k)
			parts[i] = string(kb) + ": " + n.vals[i].compact()
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case '[':
		parts := make([]string, len(n.vals))
		for i, v := range n.vals {
			parts[i] = v.compact()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return n.raw
}

// format writes n, at nesting depth, on one line when it fits the width
// from where it starts (col), else one member per line.
func (n *jsonNode) format(depth, col int) string {
	const width = 96
	c := n.compact()
	if n.kind == 0 || col+len(c) <= width || len(n.vals) == 0 {
		return c
	}
	pad := strings.Repeat("  ", depth+1)
	var b strings.Builder
	open, close := "[", "]"
	if n.kind == '{' {
		open, close = "{", "}"
	}
	b.WriteString(open + "\n")
	for i, v := range n.vals {
		b.WriteString(pad)
		key := ""
		if n.kind == '{' {
			kb, _ := json.Marshal(n.keys[i])
			key = string(kb) + ": "
		}
		b.WriteString(key + v.format(depth+1, len(pad)+len(key)))
		if i < len(n.vals)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(strings.Repeat("  ", depth) + close)
	return b.String()
}

// prettyJSON formats JSON text for people: short values on one line,
// keys in their order; text that is not JSON as it is.
func prettyJSON(text string) string {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	n, err := parseJSON(dec)
	if err != nil || dec.More() {
		return strings.TrimSpace(text)
	}
	return n.format(0, 0)
}
