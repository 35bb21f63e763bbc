package config

import (
	"fmt"
	"os"
	"regexp"
	"testing"
)

// docsWithExamples are the pages whose YAML examples are configurations.
func docsWithExamples() []string {
	return []string{"../../docs/config.md", "../../docs/collectors.md"}
}

// Every ```yaml block of the configuration docs is a whole configuration
// (it has a top-level environments: key) and loads; a block that is
// something else must say so with <!-- not a config --> on the line
// before, so that no example escapes the test. Together the examples show
// every source type.
func TestDocumentedConfigsLoad(t *testing.T) {
	block := regexp.MustCompile("(?ms)^(<!-- not a config -->\n)?```yaml\n(.*?)^```")
	types := map[string]bool{}
	for _, doc := range docsWithExamples() {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		blocks := block.FindAllSubmatch(data, -1)
		if len(blocks) == 0 {
			t.Errorf("%s has no YAML example", doc)
		}
		for i, m := range blocks {
			name := fmt.Sprintf("%s example %d", doc, i+1)
			yml := string(m[2])
			if len(m[1]) > 0 {
				continue
			}
			if !regexp.MustCompile(`(?m)^environments:`).MatchString(yml) {
				t.Errorf("%s is not a whole configuration (no top-level environments:) and not marked <!-- not a config -->", name)
				continue
			}
			c, err := Parse(name, []byte(yml))
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			for _, s := range c.Sources {
				types[s.Type] = true
			}
		}
	}
	for _, typ := range SourceTypes {
		if !types[typ] {
			t.Errorf("no documented example of a %s source", typ)
		}
	}
}
