package freshness

import (
	"hash/fnv"
	"testing"
)

// TestHashIDIsFNV1a: the written-out hash is hash/fnv's New64a, so ids
// hash as they did (0 stays "no id", and a zero hash becomes 1).
func TestHashIDIsFNV1a(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "run-1", "0192f5e8-7c1a-7d3e-9a4b-1234567890ab", "b-00000042", "ünïcode", string(make([]byte, 300))} {
		h := fnv.New64a()
		h.Write([]byte(id))
		want := h.Sum64()
		if want == 0 {
			want = 1
		}
		if got := hashID(id); got != want {
			t.Errorf("hashID(%q) = %x, want %x", id, got, want)
		}
	}
	if got := hashID(""); got != 0 {
		t.Errorf(`hashID("") = %x, want 0`, got)
	}
}
