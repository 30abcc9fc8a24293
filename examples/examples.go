// Package examples holds the demo definitions and the history generator
// that `freshet dev` uses to show a populated catalog on first start.
package examples

import _ "embed"

// DemoConfig is examples/freshet.yaml, embedded so `freshet dev` works from
// any directory.
//
//go:embed freshet.yaml
var DemoConfig []byte

// DemoConfigName is the name problems in DemoConfig are reported under.
const DemoConfigName = "examples/freshet.yaml"
