package jsondup

import "testing"

func TestFindIn(t *testing.T) {
	t.Parallel()
	many := `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":0,"k11":1,"k12":2,"k13":3,"k14":4,"k15":5,"k16":6,"k3":7}`
	tests := []struct{ body, want string }{
		{`{}`, ""},
		{`{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}`, ""},
		{`{"a":1,"a":1}`, "a"},
		{`{"a":1,"\u0061":2}`, "a"},
		{`{"a":{"b":{"c":1,"c":2}}}`, "a.b.c"},
		{`{"a":[0,{"x":1},{"x":1,"x":1}]}`, "a[2].x"},
		{`[{"x":1},[{"y":1,"y":2}]]`, "[1][0].y"},
		{`{"a":[[{"z":1,"z":1}]]}`, "a[0][0].z"},
		{many, "k3"}, // past the small-object scan: the map
		{`"a"`, ""},
	}
	for _, tt := range tests {
		got, err := FindIn([]byte(tt.body))
		if err != nil || got != tt.want {
			t.Errorf("FindIn(%s) = %q, %v; want %q", tt.body, got, err, tt.want)
		}
	}
	if _, err := FindIn([]byte(`{"a":`)); err == nil {
		t.Error("a syntax error was not reported")
	}
}
