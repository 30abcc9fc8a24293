package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/app"
	"github.com/freshet-dev/freshet/asset"
	"github.com/freshet-dev/freshet/ingest"
)

// TestDeadLettersOverHTTP: dead letters left by an earlier run are listed
// over HTTP, and a replay stores them and empties the list.
func TestDeadLettersOverHTTP(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dataDir, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	dl, err := ingest.OpenDeadLetters(filepath.Join(dataDir, "wal", "dead-letters.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	ev := asset.Event{ID: "set-aside-1", Kind: asset.KindMaterialization, Asset: "raw/orders", Time: at}
	if err := dl.Add([]ingest.DeadLetter{{Time: at, Error: "code: 27, cannot parse", Event: ev}}); err != nil {
		t.Fatal(err)
	}
	base := serverWith(t, func(c *app.Config) { c.DataDir = dataDir })

	list := get(t, base+"/api/v1/dead-letters")
	if list.status != http.StatusOK {
		t.Fatalf("GET dead-letters = %d %s", list.status, list.body)
	}
	got := list.json(t)
	items, _ := got["dead_letters"].([]any)
	if got["count"] != float64(1) || len(items) != 1 {
		t.Fatalf("dead letters = %v, want the one set aside", got)
	}
	item := items[0].(map[string]any)
	if item["error"] != "code: 27, cannot parse" || item["event"].(map[string]any)["id"] != "set-aside-1" {
		t.Errorf("dead letter = %v", item)
	}

	replay := post(t, base+"/api/v1/dead-letters/replay", "application/json", "")
	if replay.status != http.StatusOK || replay.json(t)["replayed"] != float64(1) {
		t.Fatalf("replay = %d %s, want replayed 1", replay.status, replay.body)
	}
	if got := get(t, base+"/api/v1/dead-letters").json(t); got["count"] != float64(0) {
		t.Errorf("after replay the list holds %v", got)
	}
	a := get(t, base+"/api/v1/assets/raw%2Forders").json(t)
	if m, _ := a["last_materialization"].(map[string]any); m == nil || m["id"] != "set-aside-1" {
		t.Errorf("the replayed event is not in the catalog: %v", a["last_materialization"])
	}
	waitStored(t, base, "raw%2Forders", "set-aside-1")
}

// waitStored polls an asset's stored history until id shows.
func waitStored(t *testing.T, base, escapedKey, id string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		events, _ := get(t, base+"/api/v1/assets/"+escapedKey+"/events").json(t)["events"].([]any)
		for _, e := range events {
			if e.(map[string]any)["id"] == id {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached the store", id)
		}
	}
}
