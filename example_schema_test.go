package afterhours_test

import (
	"encoding/json"
	"fmt"

	"github.com/afterhours-go/afterhours"
)

// The profile's JSON Schema names itself with its $id, which a profile may
// give as its "$schema"; ParseProfile accepts and ignores that key.
func ExampleProfileSchema() {
	var schema struct {
		Schema   string   `json:"$schema"`
		ID       string   `json:"$id"`
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(afterhours.ProfileSchema(), &schema); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(schema.Schema)
	fmt.Println(schema.ID == afterhours.ProfileSchemaID, schema.Required)

	p, err := afterhours.ParseProfile([]byte(`{"$schema": "` + schema.ID + `",
	  "client": "shop-0042", "site": {"timezone": "Europe/London"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Client)
	// Output:
	// https://json-schema.org/draft/2020-12/schema
	// true [client site]
	// shop-0042
}
