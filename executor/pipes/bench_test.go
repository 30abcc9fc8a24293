package pipes

import "testing"

// BenchmarkOpenSession is what a session costs every step attempt, in the
// executor's default mode (the context inline, a messages file) and with
// the context in a file too.
func BenchmarkOpenSession(b *testing.B) {
	pk := "2026-01-02"
	data := ContextData{AssetKeys: []string{"marts/revenue"}, RunID: "0194e0a1-7c2b-7d3e-9f00-1a2b3c4d5e6f", PartitionKey: &pk, PartitionKeyRange: &KeyRange{pk, pk}}
	for _, c := range []struct {
		name string
		opts SessionOptions
	}{
		{"inline-file", SessionOptions{}},
		{"file-file", SessionOptions{Context: ContextFile}},
		{"inline-stderr", SessionOptions{Messages: ChannelStderr}},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.opts.Dir = b.TempDir()
			b.ReportAllocs()
			for b.Loop() {
				s, err := OpenSession(data, c.opts)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
