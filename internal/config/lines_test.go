package config

import "testing"

func TestEnvironmentLine(t *testing.T) {
	doc := `environments:
  prod:
    rpo: 1h
  dev: {rpo: 72h}
sources:
  - {name: a, type: manifest, env: prod, manifest: {dir: m}}
`
	c, err := Parse("test.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Environments["prod"].Line(); got != 3 {
		t.Errorf("prod on line %d, want 3 (its first setting)", got)
	}
	if got := c.Environments["dev"].Line(); got != 4 {
		t.Errorf("dev on line %d, want 4", got)
	}
}
