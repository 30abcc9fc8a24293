package config

import (
	"testing"

	"github.com/freshet-dev/freshet/asset"
)

func FuzzParse(f *testing.F) {
	// Small seeds on purpose: the fuzzer minimizes every new interesting
	// input, which for a large seed like examples/freshet.yaml takes most of
	// a short fuzzing run. TestExampleFile covers that file.
	for _, s := range []string{
		"",
		"assets:\n  - key: a\n  - key: b\n    deps: [a]\n",
		"assets:\n  - key: a\n    deps: [b]\n  - key: b\n    deps: [a]\n",
		"assets:\n  - key: a//b\n    colour: blue\n    owners: {x: y}\n",
		"assets:\n  - &m {key: a, freshness: {max_lag: 1d12h, warn_after: 90m}}\n  - <<: *m\n    key: b\n",
		"freshness_policies:\n  - select: {group: g}\n    cron: '0 7 * * *'\n    max_lag: 2h\nassets: [{key: x, group: g}]\n",
		"assets:\n  - key: a\n    partitions: {type: static, values: [x, x]}\n    materialize: {argv: [x], env: {A: 1}, retries: 101}\n",
		"assets: [\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned a file and an error")
			}
			return
		}
		if file == nil {
			t.Fatal("Parse returned neither a file nor an error")
		}
		for _, a := range file.Assets {
			if _, err := asset.ParseKey(string(a.Key)); err != nil {
				t.Fatalf("accepted invalid key: %v", err)
			}
			for _, d := range a.Deps {
				if _, err := asset.ParseKey(string(d)); err != nil {
					t.Fatalf("accepted invalid dep: %v", err)
				}
			}
		}
	})
}
