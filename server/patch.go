package server

import (
	"encoding/json"
	"fmt"
)

// WithSet returns a config with the set of the given name replaced by the
// set in data (a JSON object), or added after the others when the config
// has no set of that name. The object's "name" may be left out; when
// given it must be name. The new config is validated whole, as
// [ParseConfig] does; its problems' paths are those of the new config.
func (c *Config) WithSet(name string, data []byte) (*Config, error) {
	return c.with("sets", name, data, func(raw json.RawMessage) string {
		var s struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(raw, &s)
		return s.Name
	})
}

// WithSite returns a config with the site of the given name replaced by the
// site in data, or added after the others, as [Config.WithSet] does for
// sets.
func (c *Config) WithSite(name string, data []byte) (*Config, error) {
	return c.with("sites", name, data, func(raw json.RawMessage) string {
		var s struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(raw, &s)
		return s.Name
	})
}

func (c *Config) with(section, name string, data []byte, nameOf func(json.RawMessage) string) (*Config, error) {
	var ps problems
	path := section + "/" + name
	if name == "" {
		ps.add(path, "a name is required")
		return nil, ps.err()
	}
	if !json.Valid(data) {
		ps.add("", "invalid JSON")
		return nil, ps.err()
	}
	o, ok := readObject(&ps, "", data, nil)
	if !ok {
		return nil, ps.err()
	}
	if raw, ok := o.get("name"); ok {
		var got string
		if !readValue(&ps, "name", raw, &got, "a string") {
			return nil, ps.err()
		}
		if got != name {
			ps.add("name", "%q, but the %s patched is %q", got, section[:len(section)-1], name)
			return nil, ps.err()
		}
	} else {
		o = append(object{{"name", mustJSON(name)}}, o...)
	}
	var list []json.RawMessage
	top := append(object(nil), c.fields...)
	at := -1
	for i, f := range top {
		if f.key == section {
			at = i
			_ = json.Unmarshal(f.value, &list) // the config is valid: an array
		}
	}
	replaced := false
	for i, raw := range list {
		if nameOf(raw) == name {
			list[i], replaced = o.marshal(), true
		}
	}
	if !replaced {
		list = append(list, o.marshal())
	}
	value, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("server: patch %s: %w", path, err)
	}
	if at >= 0 {
		top[at].value = value
	} else {
		top = append(top, field{section, value})
	}
	return ParseConfig(top.marshal())
}
