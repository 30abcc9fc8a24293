package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freshet-dev/freshet/store"
)

// RunAlerts runs the store.AlertStore suite. Subtests run in parallel,
// each on the fresh, empty store open returns; open closes it when the
// test ends (t.Cleanup), since AlertStore has no Close of its own.
func RunAlerts(t *testing.T, open func(t *testing.T) store.AlertStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.AlertStore)
	}{
		{"Empty", testAlertEmpty},
		{"DeliveryRoundTrip", testDeliveryRoundTrip},
		{"IncidentRoundTrip", testIncidentRoundTrip},
		{"SilenceRoundTrip", testSilenceRoundTrip},
		{"DeliveryUpsert", testDeliveryUpsert},
		{"IncidentUpsert", testIncidentUpsert},
		{"SilenceUpsert", testSilenceUpsert},
		{"OutOfOrderFlushes", testAlertOutOfOrder},
		{"DeliveryPaging", testDeliveryPaging},
		{"DeliveryFilters", testDeliveryFilters},
		{"DeliveryLimitCap", testDeliveryLimitCap},
		{"DeliveryBadCursor", testDeliveryBadCursor},
		{"DueDeliveries", testDueDeliveries},
		{"IncidentOrder", testIncidentOrder},
		{"SilenceOrder", testSilenceOrder},
		{"Incomplete", testAlertIncomplete},
		{"ConcurrentWriters", testAlertConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// a0 is the suite's reference time for alerts.
var a0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func minute(n int) time.Duration { return time.Duration(n) * time.Minute }

// binaryBlob is JSON followed by every byte value: a store must keep
// notifications and selectors as bytes, not as text it may re-encode.
func binaryBlob() []byte {
	b := []byte(`{"key":"freshness/warehouse/заказы","summary":"stale ✓ \"quoted\" back\\slash ? $1 '"}`)
	for i := range 256 {
		b = append(b, byte(i))
	}
	return append(b, 0xff, 0xfe, 0x00, 0xc3) // invalid UTF-8, a NUL, a cut rune
}

func newDelivery(id string, created time.Time, state string, next, updated time.Time) store.Delivery {
	return store.Delivery{
		ID: id, Receiver: "pagerduty", Key: "fresh/" + id, Status: "firing",
		Notification: []byte(`{"key":"fresh/` + id + `"}`),
		State:        state, NextAttempt: next, Created: created, Updated: updated,
	}
}

func newIncident(key string, starts, ends, updated time.Time) store.Incident {
	return store.Incident{Key: key, Rule: "freshness", RootCause: "raw/" + key,
		Notification: []byte(`{"key":"` + key + `"}`), StartsAt: starts, EndsAt: ends, Updated: updated}
}

func newSilence(id string, created, updated time.Time) store.Silence {
	return store.Silence{ID: id, Selector: []byte(`{"keys":["raw/orders"]}`), Comment: "maintenance",
		CreatedBy: "ops", StartsAt: created, EndsAt: created.Add(time.Hour), Created: created, Updated: updated}
}

func putDeliveries(t *testing.T, s store.AlertStore, ds ...store.Delivery) {
	t.Helper()
	if err := s.PutDeliveries(context.Background(), ds); err != nil {
		t.Fatalf("PutDeliveries(%s): %v", deliveryIDs(ds), err)
	}
}

func putIncidents(t *testing.T, s store.AlertStore, in ...store.Incident) {
	t.Helper()
	if err := s.PutIncidents(context.Background(), in); err != nil {
		t.Fatalf("PutIncidents(%s): %v", incidentKeys(in), err)
	}
}

func putSilences(t *testing.T, s store.AlertStore, ss ...store.Silence) {
	t.Helper()
	if err := s.PutSilences(context.Background(), ss); err != nil {
		t.Fatalf("PutSilences(%s): %v", silenceIDs(ss), err)
	}
}

func deliveryPage(t *testing.T, s store.AlertStore, q store.DeliveryQuery) store.DeliveryPage {
	t.Helper()
	p, err := s.Deliveries(context.Background(), q)
	if err != nil {
		t.Fatalf("Deliveries(%+v): %v", q, err)
	}
	for _, d := range p.Deliveries {
		checkUTC(t, "listed delivery "+d.ID, d.NextAttempt, d.Created, d.Updated)
	}
	return p
}

// allDeliveries pages through q and returns every delivery, checking that
// each Next is the cursor of its page's last delivery, that only the last
// page lacks one and that no delivery shows twice.
func allDeliveries(t *testing.T, s store.AlertStore, q store.DeliveryQuery) []store.Delivery {
	t.Helper()
	var out []store.Delivery
	seen := map[string]bool{}
	for i := 0; ; i++ {
		p := deliveryPage(t, s, q)
		for _, d := range p.Deliveries {
			if seen[d.ID] {
				t.Errorf("Deliveries(%+v): %s on two pages", q, d.ID)
			}
			seen[d.ID] = true
		}
		out = append(out, p.Deliveries...)
		if p.Next == "" {
			return out
		}
		if len(p.Deliveries) == 0 {
			t.Fatalf("Deliveries(%+v): an empty page with a next cursor", q)
		}
		last := p.Deliveries[len(p.Deliveries)-1]
		if want := store.EncodeCursor(store.Position{Time: last.Created, ID: last.ID}); p.Next != want {
			t.Fatalf("Deliveries(%+v): Next %q is not the cursor of the last delivery %s (%q)", q, p.Next, last.ID, want)
		}
		if i > 10000 {
			t.Fatal("delivery pagination does not end")
		}
		q.Cursor = p.Next
	}
}

func dueDeliveries(t *testing.T, s store.AlertStore, now time.Time, limit int) []store.Delivery {
	t.Helper()
	ds, err := s.DueDeliveries(context.Background(), now, limit)
	if err != nil {
		t.Fatalf("DueDeliveries(%v, %d): %v", now, limit, err)
	}
	for _, d := range ds {
		checkUTC(t, "due delivery "+d.ID, d.NextAttempt, d.Created, d.Updated)
		if d.State != store.DeliveryPending {
			t.Errorf("DueDeliveries(%v, %d) returned %s in state %s", now, limit, d.ID, d.State)
		}
	}
	return ds
}

func listIncidents(t *testing.T, s store.AlertStore, open bool) []store.Incident {
	t.Helper()
	in, err := s.Incidents(context.Background(), open)
	if err != nil {
		t.Fatalf("Incidents(%v): %v", open, err)
	}
	for _, i := range in {
		checkUTC(t, "incident "+i.Key, i.StartsAt, i.EndsAt, i.LastSent, i.Updated)
	}
	return in
}

func listSilences(t *testing.T, s store.AlertStore) []store.Silence {
	t.Helper()
	ss, err := s.Silences(context.Background())
	if err != nil {
		t.Fatalf("Silences: %v", err)
	}
	for _, x := range ss {
		checkUTC(t, "silence "+x.ID, x.StartsAt, x.EndsAt, x.Created, x.Updated)
	}
	return ss
}

func deliveryIDs(ds []store.Delivery) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return strings.Join(out, " ")
}

func incidentKeys(in []store.Incident) string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = x.Key
	}
	return strings.Join(out, " ")
}

func silenceIDs(ss []store.Silence) string {
	out := make([]string, len(ss))
	for i, x := range ss {
		out[i] = x.ID
	}
	return strings.Join(out, " ")
}

// normDelivery, normIncident and normSilence put every time in UTC and
// make an empty blob nil, so reflect.DeepEqual compares what a store must
// keep: instants and bytes.
func normDelivery(d store.Delivery) store.Delivery {
	d.NextAttempt, d.Created, d.Updated = d.NextAttempt.UTC(), d.Created.UTC(), d.Updated.UTC()
	d.Notification = normBlob(d.Notification)
	return d
}

func normIncident(i store.Incident) store.Incident {
	i.StartsAt, i.EndsAt, i.LastSent, i.Updated = i.StartsAt.UTC(), i.EndsAt.UTC(), i.LastSent.UTC(), i.Updated.UTC()
	i.Notification = normBlob(i.Notification)
	return i
}

func normSilence(s store.Silence) store.Silence {
	s.StartsAt, s.EndsAt, s.Created, s.Updated = s.StartsAt.UTC(), s.EndsAt.UTC(), s.Created.UTC(), s.Updated.UTC()
	s.Selector = normBlob(s.Selector)
	return s
}

func normBlob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func sameDelivery(t *testing.T, what string, got, want store.Delivery) {
	t.Helper()
	if g, w := normDelivery(got), normDelivery(want); !reflect.DeepEqual(g, w) {
		if !bytes.Equal(g.Notification, w.Notification) {
			t.Errorf("%s: notification\n got %q\nwant %q", what, g.Notification, w.Notification)
		}
		g.Notification, w.Notification = nil, nil
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func sameDeliveries(t *testing.T, what string, got, want []store.Delivery) {
	t.Helper()
	if deliveryIDs(got) != deliveryIDs(want) {
		t.Errorf("%s: deliveries\n got %s\nwant %s", what, deliveryIDs(got), deliveryIDs(want))
		return
	}
	for i := range got {
		sameDelivery(t, fmt.Sprintf("%s: delivery %d", what, i), got[i], want[i])
	}
}

func sameIncidents(t *testing.T, what string, got, want []store.Incident) {
	t.Helper()
	if incidentKeys(got) != incidentKeys(want) {
		t.Errorf("%s: incidents\n got %s\nwant %s", what, incidentKeys(got), incidentKeys(want))
		return
	}
	for i := range got {
		if g, w := normIncident(got[i]), normIncident(want[i]); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: incident %d:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

func sameSilences(t *testing.T, what string, got, want []store.Silence) {
	t.Helper()
	if silenceIDs(got) != silenceIDs(want) {
		t.Errorf("%s: silences\n got %s\nwant %s", what, silenceIDs(got), silenceIDs(want))
		return
	}
	for i := range got {
		if g, w := normSilence(got[i]), normSilence(want[i]); !reflect.DeepEqual(g, w) {
			t.Errorf("%s: silence %d:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

// sortDeliveries orders deliveries as Deliveries must: newest Created
// first, ties by ID descending.
func sortDeliveries(ds []store.Delivery) []store.Delivery {
	ds = slices.Clone(ds)
	slices.SortFunc(ds, func(a, b store.Delivery) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return ds
}

// dueModel is what DueDeliveries must return from the current versions
// ds: the pending ones due at now, oldest NextAttempt first, ties by ID
// ascending, at most limit.
func dueModel(ds []store.Delivery, now time.Time, limit int) []store.Delivery {
	var out []store.Delivery
	for _, d := range ds {
		if d.State == store.DeliveryPending && !d.NextAttempt.After(now) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b store.Delivery) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out[:min(len(out), limit)]
}

func paris() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.FixedZone("CET", 3600)
}

func testAlertEmpty(t *testing.T, s store.AlertStore) {
	ctx := context.Background()
	// Empty batches are no-ops, on a store that has never been written.
	if err := s.PutDeliveries(ctx, nil); err != nil {
		t.Errorf("PutDeliveries(nil): %v", err)
	}
	if err := s.PutIncidents(ctx, []store.Incident{}); err != nil {
		t.Errorf("PutIncidents(empty): %v", err)
	}
	if err := s.PutSilences(ctx, nil); err != nil {
		t.Errorf("PutSilences(nil): %v", err)
	}
	if p := deliveryPage(t, s, store.DeliveryQuery{}); len(p.Deliveries) != 0 || p.Next != "" {
		t.Errorf("Deliveries on an empty store: %+v", p)
	}
	if got := dueDeliveries(t, s, a0.Add(1000*time.Hour), 0); len(got) != 0 {
		t.Errorf("DueDeliveries on an empty store: %s", deliveryIDs(got))
	}
	for _, open := range []bool{true, false} {
		if got := listIncidents(t, s, open); len(got) != 0 {
			t.Errorf("Incidents(%v) on an empty store: %s", open, incidentKeys(got))
		}
	}
	if got := listSilences(t, s); len(got) != 0 {
		t.Errorf("Silences on an empty store: %s", silenceIDs(got))
	}
}

func testDeliveryRoundTrip(t *testing.T, s store.AlertStore) {
	zone := paris()
	blob := binaryBlob()
	full := store.Delivery{
		ID: "dl-ü-1", Receiver: "pagerduty/ops ✓", Key: "freshness/warehouse/заказы",
		Status: "resolved", Notification: blob, State: store.DeliveryPending, Attempts: 3,
		NextAttempt: a0.Add(sec(5) + 7*time.Nanosecond).In(zone),
		LastCode:    429, LastError: "rate limited: {\"error\":\"slow down\"}\nline 2 ✓\ttab",
		LastLatency: 1_234_567_891 * time.Nanosecond,
		Created:     a0.Add(123_456_789 * time.Nanosecond).In(zone),
		Updated:     a0.Add(sec(3) + 999*time.Nanosecond),
	}
	// Zero times, no notification, nothing optional.
	bare := store.Delivery{ID: "dl-bare", State: store.DeliveryDelivered, Created: a0.Add(-time.Hour), Updated: a0.Add(-time.Hour)}
	// A large notification: 64 KiB of every byte value.
	large := newDelivery("dl-large", a0.Add(-time.Minute), store.DeliveryRejected, time.Time{}, a0)
	large.Notification = bytes.Repeat(blob, 65536/len(blob)+1)
	large.LastCode, large.LastLatency, large.LastError = -1, -time.Nanosecond, strings.Repeat("é", 5000)
	// The store keeps its own copy of the bytes: scribbling on the
	// caller's after the put changes nothing stored.
	sent := full
	sent.Notification = bytes.Clone(full.Notification)
	putDeliveries(t, s, bare, sent, large)
	for i := range sent.Notification {
		sent.Notification[i] = '!'
	}

	got := deliveryPage(t, s, store.DeliveryQuery{})
	sameDeliveries(t, "Deliveries", got.Deliveries, []store.Delivery{full, large, bare})
	if got.Next != "" {
		t.Errorf("Deliveries: Next %q on the only page", got.Next)
	}
	if len(got.Deliveries) == 3 {
		b := got.Deliveries[2]
		if b.NextAttempt != (time.Time{}) || len(b.Notification) != 0 {
			t.Errorf("bare delivery: zero NextAttempt/notification came back as %v/%q", b.NextAttempt, b.Notification)
		}
		// Changing one answer changes neither the store nor another answer.
		got.Deliveries[0].Notification[0] = '#'
	}
	again := deliveryPage(t, s, store.DeliveryQuery{})
	sameDeliveries(t, "Deliveries read again", again.Deliveries, []store.Delivery{full, large, bare})

	// Due to the nanosecond, in any zone.
	sameDeliveries(t, "due at NextAttempt", dueDeliveries(t, s, full.NextAttempt.In(time.FixedZone("X", -7*3600)), 10), []store.Delivery{full})
	if got := dueDeliveries(t, s, full.NextAttempt.Add(-time.Nanosecond), 10); len(got) != 0 {
		t.Errorf("due a nanosecond before NextAttempt: %s", deliveryIDs(got))
	}
}

func testIncidentRoundTrip(t *testing.T, s store.AlertStore) {
	zone := paris()
	full := store.Incident{
		Key: "freshness/warehouse/заказы", Rule: "freshness ✓", RootCause: "raw/注文",
		Notification: binaryBlob(),
		StartsAt:     a0.Add(123_456_789 * time.Nanosecond).In(zone),
		LastSent:     a0.Add(sec(30) + time.Nanosecond).In(zone),
		Updated:      a0.Add(sec(30) + 2*time.Nanosecond),
	}
	resolved := store.Incident{
		Key: "check/mart/x", Rule: "check", RootCause: "mart/x", Notification: []byte(`{}`),
		StartsAt: a0.Add(-time.Hour), EndsAt: a0.Add(-time.Minute + 5*time.Nanosecond), LastSent: a0.Add(-time.Minute),
		Updated: a0.Add(-time.Minute + 6*time.Nanosecond),
	}
	bare := store.Incident{Key: "bare", StartsAt: a0.Add(-2 * time.Hour), Updated: a0}
	putIncidents(t, s, resolved, bare, full)
	sameIncidents(t, "Incidents(false)", listIncidents(t, s, false), []store.Incident{full, resolved, bare})
	sameIncidents(t, "Incidents(true)", listIncidents(t, s, true), []store.Incident{full, bare})
}

func testSilenceRoundTrip(t *testing.T, s store.AlertStore) {
	zone := paris()
	full := store.Silence{
		ID: "sil-ü-1", Selector: binaryBlob(), Comment: "déploiement ✓\n\"quoted\"", CreatedBy: "ops@example.com",
		StartsAt: a0.Add(7 * time.Nanosecond).In(zone), EndsAt: a0.Add(time.Hour + 9*time.Nanosecond).In(zone),
		Created: a0.Add(-time.Minute + 11*time.Nanosecond).In(zone), Updated: a0.Add(13 * time.Nanosecond),
	}
	expired := newSilence("sil-expired", a0.Add(-48*time.Hour), a0.Add(-47*time.Hour))
	expired.EndsAt = a0.Add(-47 * time.Hour)
	bare := store.Silence{ID: "sil-bare", Created: a0.Add(-time.Hour), Updated: a0.Add(-time.Hour)}
	putSilences(t, s, expired, full, bare)
	sameSilences(t, "Silences", listSilences(t, s), []store.Silence{full, bare, expired})
}

func testDeliveryUpsert(t *testing.T, s store.AlertStore) {
	now := a0.Add(time.Hour)
	// ver is version at of the delivery, told apart by LastError; a
	// version may move its Created and NextAttempt, and with them its
	// place in the listing and the work list.
	ver := func(label, state string, at int, next time.Time) store.Delivery {
		d := newDelivery("up-1", a0.Add(minute(at%3)), state, next, a0.Add(sec(at)))
		d.LastError, d.Attempts = label, at
		return d
	}
	other := newDelivery("up-0", a0.Add(minute(1)), store.DeliveryPending, a0, a0) // a neighbour that stays put
	putDeliveries(t, s, other)
	due, later := a0.Add(minute(5)), now.Add(time.Hour)
	cases := []struct {
		name string
		ds   []store.Delivery
		want store.Delivery // up-1 after the call
	}{
		{"first", []store.Delivery{ver("A", store.DeliveryPending, 2, due)}, ver("A", store.DeliveryPending, 2, due)},
		{"older is ignored", []store.Delivery{ver("B", store.DeliveryDelivered, 1, due)}, ver("A", store.DeliveryPending, 2, due)},
		{"equal replaces", []store.Delivery{ver("C", store.DeliveryPending, 2, later)}, ver("C", store.DeliveryPending, 2, later)},
		{"newer replaces", []store.Delivery{ver("D", store.DeliveryPending, 3, due)}, ver("D", store.DeliveryPending, 3, due)},
		{"delivered", []store.Delivery{ver("E", store.DeliveryDelivered, 4, due)}, ver("E", store.DeliveryDelivered, 4, due)},
		{"an older pending version does not come back", []store.Delivery{ver("F", store.DeliveryPending, 3, a0)}, ver("E", store.DeliveryDelivered, 4, due)},
		{"newest of a batch wins, first", []store.Delivery{ver("G", store.DeliveryPending, 6, a0), ver("H", store.DeliveryRejected, 5, due)}, ver("G", store.DeliveryPending, 6, a0)},
		{"newest of a batch wins, last", []store.Delivery{ver("I", store.DeliveryDropped, 7, due), ver("J", store.DeliveryPending, 8, due)}, ver("J", store.DeliveryPending, 8, due)},
		{"ties in a batch go to the later", []store.Delivery{ver("K", store.DeliveryPending, 9, a0), ver("L", store.DeliverySilenced, 9, due)}, ver("L", store.DeliverySilenced, 9, due)},
		{"older batch after newer", []store.Delivery{ver("M", store.DeliveryPending, 1, a0), ver("N", store.DeliveryPending, 2, a0)}, ver("L", store.DeliverySilenced, 9, due)},
		{"pending again", []store.Delivery{ver("O", store.DeliveryPending, 10, a0.Add(minute(2)))}, ver("O", store.DeliveryPending, 10, a0.Add(minute(2)))},
	}
	for _, c := range cases {
		putDeliveries(t, s, c.ds...)
		all := []store.Delivery{other, c.want}
		// The listing shows it once, in its current state and place.
		sameDeliveries(t, c.name+": Deliveries", allDeliveries(t, s, store.DeliveryQuery{Limit: 1}), sortDeliveries(all))
		sameDeliveries(t, c.name+": DueDeliveries", dueDeliveries(t, s, now, 10), dueModel(all, now, 10))
		for _, st := range []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliverySilenced} {
			want := ""
			if c.want.State == st {
				want = "up-1"
			}
			var got []string
			for _, d := range allDeliveries(t, s, store.DeliveryQuery{States: []string{st}, Key: "fresh/up-1"}) {
				got = append(got, d.ID)
			}
			if strings.Join(got, " ") != want {
				t.Errorf("%s: Deliveries in state %s with key fresh/up-1 = %q, want %q", c.name, st, got, want)
			}
		}
	}
}

func testIncidentUpsert(t *testing.T, s store.AlertStore) {
	open := time.Time{}
	ver := func(label string, at int, ends time.Time) store.Incident {
		in := newIncident("inc-1", a0, ends, a0.Add(sec(at)))
		in.Notification = []byte(`{"v":"` + label + `"}`)
		in.LastSent = a0.Add(sec(at))
		return in
	}
	other := newIncident("inc-0", a0.Add(-time.Hour), open, a0)
	putIncidents(t, s, other)
	for _, c := range []struct {
		name string
		in   []store.Incident
		want store.Incident
	}{
		{"opened", []store.Incident{ver("A", 2, open)}, ver("A", 2, open)},
		{"older is ignored", []store.Incident{ver("B", 1, a0.Add(sec(1)))}, ver("A", 2, open)},
		{"equal replaces", []store.Incident{ver("C", 2, open)}, ver("C", 2, open)},
		{"resolved", []store.Incident{ver("D", 4, a0.Add(sec(4)))}, ver("D", 4, a0.Add(sec(4)))},
		{"an older open version does not re-open it", []store.Incident{ver("E", 3, open)}, ver("D", 4, a0.Add(sec(4)))},
		{"re-opened: EndsAt back to zero", []store.Incident{ver("F", 5, open)}, ver("F", 5, open)},
		{"an older resolution does not close it", []store.Incident{ver("G", 4, a0.Add(sec(4)))}, ver("F", 5, open)},
		{"newest of a batch wins", []store.Incident{ver("H", 7, a0.Add(sec(7))), ver("I", 6, open)}, ver("H", 7, a0.Add(sec(7)))},
		{"ties in a batch go to the later", []store.Incident{ver("J", 8, a0.Add(sec(8))), ver("K", 8, open)}, ver("K", 8, open)},
	} {
		putIncidents(t, s, c.in...)
		sameIncidents(t, c.name+": Incidents(false)", listIncidents(t, s, false), []store.Incident{c.want, other})
		wantOpen := []store.Incident{other}
		if c.want.EndsAt.IsZero() {
			wantOpen = []store.Incident{c.want, other}
		}
		sameIncidents(t, c.name+": Incidents(true)", listIncidents(t, s, true), wantOpen)
	}
}

func testSilenceUpsert(t *testing.T, s store.AlertStore) {
	ver := func(comment string, at int, ends time.Time) store.Silence {
		x := newSilence("sil-1", a0.Add(minute(at%2)), a0.Add(sec(at)))
		x.Comment, x.EndsAt = comment, ends
		return x
	}
	later := a0.Add(time.Hour)
	other := newSilence("sil-0", a0.Add(time.Second/2), a0)
	putSilences(t, s, other)
	for _, c := range []struct {
		name string
		ss   []store.Silence
		want store.Silence
	}{
		{"created", []store.Silence{ver("A", 2, later)}, ver("A", 2, later)},
		{"older is ignored", []store.Silence{ver("B", 1, later)}, ver("A", 2, later)},
		{"equal replaces", []store.Silence{ver("C", 2, later)}, ver("C", 2, later)},
		{"expired", []store.Silence{ver("D", 3, a0.Add(sec(3)))}, ver("D", 3, a0.Add(sec(3)))},
		{"an older version does not un-expire it", []store.Silence{ver("E", 2, later)}, ver("D", 3, a0.Add(sec(3)))},
		{"newest of a batch wins", []store.Silence{ver("F", 5, later), ver("G", 4, later)}, ver("F", 5, later)},
		{"ties in a batch go to the later", []store.Silence{ver("H", 6, later), ver("I", 6, a0)}, ver("I", 6, a0)},
	} {
		putSilences(t, s, c.ss...)
		want := []store.Silence{c.want, other}
		if c.want.Created.Before(other.Created) {
			want = []store.Silence{other, c.want}
		}
		sameSilences(t, c.name, listSilences(t, s), want)
	}
}

// testAlertOutOfOrder delivers five versions of every record, one call
// each, in a different order per record, as writers that retry and flush
// out of order do. The newest version is what remains, in the listings
// and in the work list: a delivery's newest version is pending for even
// i and delivered for odd i, its older ones the other way round, and
// every version moves its NextAttempt.
func testAlertOutOfOrder(t *testing.T, s store.AlertStore) {
	const n = 12
	orders := [][]int{{3, 1, 5, 2, 4}, {5, 4, 3, 2, 1}, {1, 2, 3, 4, 5}, {2, 5, 1, 4, 3}}
	state := func(i, v int) string {
		if (i%2 == 0) == (v == 5) {
			return store.DeliveryPending
		}
		return store.DeliveryDelivered
	}
	var final []store.Delivery
	for round := range 5 {
		for i := range n {
			v := orders[i%len(orders)][round]
			label := fmt.Sprintf("v%d", v)
			d := newDelivery(fmt.Sprintf("ooo-%02d", i), a0.Add(minute(i)), state(i, v),
				a0.Add(minute(n-i)+sec(v)), a0.Add(sec(v)))
			d.LastError = label
			in := newIncident(fmt.Sprintf("ooo-%02d", i), a0.Add(minute(i)), time.Time{}, a0.Add(sec(v)))
			if v%2 == 1 {
				in.EndsAt = a0.Add(sec(v)) // v5 resolved, v4 open
			}
			in.Rule = label
			x := newSilence(fmt.Sprintf("ooo-%02d", i), a0.Add(minute(i)), a0.Add(sec(v)))
			x.Comment = label
			putDeliveries(t, s, d)
			putIncidents(t, s, in)
			putSilences(t, s, x)
			if v == 5 {
				final = append(final, d)
			}
		}
	}
	got := allDeliveries(t, s, store.DeliveryQuery{Limit: 5})
	sameDeliveries(t, "Deliveries", got, sortDeliveries(final))
	now := a0.Add(time.Hour)
	sameDeliveries(t, "DueDeliveries", dueDeliveries(t, s, now, 100), dueModel(final, now, 100))
	if k := len(dueDeliveries(t, s, now, 100)); k != 6 {
		t.Errorf("%d due deliveries, want 6", k)
	}
	incidents := listIncidents(t, s, false)
	if len(incidents) != n {
		t.Fatalf("%d incidents, want %d: %s", len(incidents), n, incidentKeys(incidents))
	}
	for i, in := range incidents {
		if want := fmt.Sprintf("ooo-%02d", n-1-i); in.Key != want || in.Rule != "v5" || in.EndsAt.IsZero() {
			t.Errorf("incident %d is %s %s (ends %v), want %s v5 resolved", i, in.Key, in.Rule, in.EndsAt, want)
		}
	}
	if open := listIncidents(t, s, true); len(open) != 0 {
		t.Errorf("open incidents %s: an older open version shows", incidentKeys(open))
	}
	silences := listSilences(t, s)
	if len(silences) != n {
		t.Fatalf("%d silences, want %d: %s", len(silences), n, silenceIDs(silences))
	}
	for i, x := range silences {
		if want := fmt.Sprintf("ooo-%02d", n-1-i); x.ID != want || x.Comment != "v5" {
			t.Errorf("silence %d is %s %s, want %s v5", i, x.ID, x.Comment, want)
		}
	}
}

func testDeliveryPaging(t *testing.T, s store.AlertStore) {
	var ds []store.Delivery
	for i := range 25 {
		// Pairs share a Created, and ids do not follow time, so only
		// (Created, ID) order passes.
		id := fmt.Sprintf("pg-%02d", (i*7)%25)
		ds = append(ds, newDelivery(id, a0.Add(minute(i/2)), store.DeliveryDelivered, a0, a0))
	}
	// Out of order, in two batches; a later state change must not move
	// or repeat a delivery.
	putDeliveries(t, s, ds[13:]...)
	putDeliveries(t, s, ds[:13]...)
	changed := ds[6]
	changed.State, changed.Attempts, changed.Updated = store.DeliveryRejected, 2, a0.Add(sec(1))
	putDeliveries(t, s, changed)
	ds[6] = changed
	want := sortDeliveries(ds)

	for _, limit := range []int{1, 7, 12, 25, 30} {
		q := store.DeliveryQuery{Limit: limit}
		var got []store.Delivery
		pages := 0
		for {
			p := deliveryPage(t, s, q)
			pages++
			if len(p.Deliveries) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(p.Deliveries))
			}
			got = append(got, p.Deliveries...)
			if p.Next == "" {
				break
			}
			if len(p.Deliveries) != limit {
				t.Errorf("limit %d: page %d has %d deliveries and a next page", limit, pages, len(p.Deliveries))
			}
			if len(p.Deliveries) == 0 {
				t.Fatalf("limit %d: an empty page with a next cursor", limit)
			}
			last := p.Deliveries[len(p.Deliveries)-1]
			if c := store.EncodeCursor(store.Position{Time: last.Created, ID: last.ID}); p.Next != c {
				t.Errorf("limit %d: Next %q, want the cursor of %s (%q)", limit, p.Next, last.ID, c)
			}
			if pages > 30 {
				t.Fatalf("limit %d: pagination does not end", limit)
			}
			q.Cursor = p.Next
		}
		sameDeliveries(t, fmt.Sprintf("limit %d", limit), got, want)
		if wantPages := (25 + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d (Next empty on the last page)", limit, pages, wantPages)
		}
	}
	// The cursor format is shared: one made from a delivery's (Created,
	// ID) resumes strictly after that delivery.
	from := want[9]
	p := deliveryPage(t, s, store.DeliveryQuery{Limit: 3, Cursor: store.EncodeCursor(store.Position{Time: from.Created, ID: from.ID})})
	if got, w := deliveryIDs(p.Deliveries), deliveryIDs(want[10:13]); got != w {
		t.Errorf("after %s: %s, want %s", from.ID, got, w)
	}
	// A cursor between two deliveries of one Created: after (t, "pg-99")
	// comes the first of the pair, not the second.
	pair := want[1:3] // share a Created
	if !pair[0].Created.Equal(pair[1].Created) {
		t.Fatalf("model: %s and %s do not share a Created", pair[0].ID, pair[1].ID)
	}
	p = deliveryPage(t, s, store.DeliveryQuery{Limit: 1, Cursor: store.EncodeCursor(store.Position{Time: pair[0].Created, ID: pair[0].ID + "~"})})
	if got := deliveryIDs(p.Deliveries); got != pair[0].ID {
		t.Errorf("after (%v, %s~): %s, want %s", pair[0].Created, pair[0].ID, got, pair[0].ID)
	}
}

func testDeliveryFilters(t *testing.T, s store.AlertStore) {
	mk := func(id string, min int, receiver, key, state string) store.Delivery {
		d := newDelivery(id, a0.Add(minute(min)), state, a0, a0)
		d.Receiver, d.Key = receiver, key
		return d
	}
	ds := []store.Delivery{
		mk("f1", 0, "pd", "k1", store.DeliveryDelivered),
		mk("f2", 1, "pd", "k10", store.DeliveryPending), // becomes rejected below
		mk("f3", 2, "webhook", "k1", store.DeliveryPending),
		mk("f4", 3, "pd-eu", "k1", store.DeliverySilenced),
		mk("f5", 4, "webhook", "k2", store.DeliveryDropped),
		mk("f6", 5, "webhook", "k1", store.DeliveryPending), // moves to receiver pd, key k2 below
	}
	putDeliveries(t, s, ds...)
	// Filters see the current state, not an old one.
	f2 := ds[1]
	f2.State, f2.Updated = store.DeliveryRejected, a0.Add(sec(1))
	f6 := ds[5]
	f6.Receiver, f6.Key, f6.Updated = "pd", "k2", a0.Add(sec(1))
	putDeliveries(t, s, f2, f6)
	for _, c := range []struct {
		q    store.DeliveryQuery
		want string
	}{
		{store.DeliveryQuery{}, "f6 f5 f4 f3 f2 f1"},
		{store.DeliveryQuery{States: []string{store.DeliveryPending}}, "f6 f3"},
		{store.DeliveryQuery{States: []string{store.DeliveryRejected}}, "f2"},
		{store.DeliveryQuery{States: []string{store.DeliveryPending, store.DeliveryDelivered}}, "f6 f3 f1"},
		{store.DeliveryQuery{States: []string{"nope"}}, ""},
		{store.DeliveryQuery{Receiver: "pd"}, "f6 f2 f1"},
		{store.DeliveryQuery{Receiver: "webhook"}, "f5 f3"},
		{store.DeliveryQuery{Receiver: "p"}, ""},
		{store.DeliveryQuery{Key: "k1"}, "f4 f3 f1"},
		{store.DeliveryQuery{Key: "k2"}, "f6 f5"},
		{store.DeliveryQuery{Key: "k"}, ""},
		{store.DeliveryQuery{Key: "k10"}, "f2"},
		{store.DeliveryQuery{Key: "k1", States: []string{store.DeliveryPending}}, "f3"},
		{store.DeliveryQuery{Key: "k1", Receiver: "pd"}, "f1"},
		{store.DeliveryQuery{Receiver: "webhook", States: []string{store.DeliveryPending, store.DeliveryDropped}}, "f5 f3"},
		{store.DeliveryQuery{Key: "k2", Receiver: "pd", States: []string{store.DeliveryPending}}, "f6"},
		{store.DeliveryQuery{Key: "k2", Receiver: "webhook", States: []string{store.DeliveryPending}}, ""},
	} {
		// Each filter through pages of one and two, and in one page.
		for _, limit := range []int{1, 2, 0} {
			q := c.q
			q.Limit = limit
			if got := deliveryIDs(allDeliveries(t, s, q)); got != c.want {
				t.Errorf("Deliveries(%+v) = %q, want %q", q, got, c.want)
			}
		}
	}
	// A cursor taken from a filtered page resumes that filter.
	p := deliveryPage(t, s, store.DeliveryQuery{Key: "k1", Limit: 1})
	p = deliveryPage(t, s, store.DeliveryQuery{Key: "k1", Limit: 5, Cursor: p.Next})
	if got := deliveryIDs(p.Deliveries); got != "f3 f1" || p.Next != "" {
		t.Errorf("second page of key k1: %q next %q, want f3 f1 and no next", got, p.Next)
	}
	got := deliveryPage(t, s, store.DeliveryQuery{States: []string{store.DeliveryRejected}}).Deliveries
	sameDeliveries(t, "filtered f2", got, []store.Delivery{f2})
}

func testDeliveryLimitCap(t *testing.T, s store.AlertStore) {
	const n = store.MaxLimit + 5
	ds := make([]store.Delivery, n)
	for i := range ds {
		// Created ascends with i, NextAttempt descends: the listing and
		// the work list start at opposite ends.
		ds[i] = newDelivery(fmt.Sprintf("lc-%04d", i), a0.Add(sec(i)), store.DeliveryPending, a0.Add(-sec(i)), a0)
	}
	putDeliveries(t, s, ds...)
	for _, c := range []struct {
		limit, want int
	}{
		{0, store.DefaultLimit},
		{-1, store.DefaultLimit},
		{3, 3},
		{store.MaxLimit * 5, store.MaxLimit},
	} {
		p := deliveryPage(t, s, store.DeliveryQuery{Limit: c.limit})
		if len(p.Deliveries) != c.want || p.Next == "" {
			t.Errorf("limit %d: %d deliveries, next %q; want %d and a next page", c.limit, len(p.Deliveries), p.Next, c.want)
		}
		if len(p.Deliveries) > 0 && p.Deliveries[0].ID != "lc-1004" {
			t.Errorf("limit %d: first delivery %s, want lc-1004", c.limit, p.Deliveries[0].ID)
		}
		due := dueDeliveries(t, s, a0, c.limit)
		if len(due) != c.want {
			t.Errorf("DueDeliveries limit %d: %d deliveries, want %d", c.limit, len(due), c.want)
		}
		for i, d := range due {
			if want := fmt.Sprintf("lc-%04d", n-1-i); d.ID != want {
				t.Errorf("DueDeliveries limit %d: delivery %d is %s, want %s", c.limit, i, d.ID, want)
				break
			}
		}
	}
	if got := allDeliveries(t, s, store.DeliveryQuery{Limit: store.MaxLimit}); len(got) != n || got[n-1].ID != "lc-0000" {
		t.Errorf("paging at the cap: %d deliveries, want %d ending with lc-0000", len(got), n)
	}
}

func testDeliveryBadCursor(t *testing.T, s store.AlertStore) {
	putDeliveries(t, s, newDelivery("bc", a0, store.DeliveryPending, a0, a0))
	for _, c := range []string{"!!!", "bm90IGEgY3Vyc29y", "MTIz"} { // not base64; "not a cursor"; "123" without an id
		if _, err := s.Deliveries(context.Background(), store.DeliveryQuery{Cursor: c}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("Deliveries with cursor %q: err = %v, want ErrBadCursor", c, err)
		}
		if _, err := s.Deliveries(context.Background(), store.DeliveryQuery{Cursor: c, Key: "fresh/bc"}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("Deliveries with key and cursor %q: err = %v, want ErrBadCursor", c, err)
		}
	}
}

func testDueDeliveries(t *testing.T, s store.AlertStore) {
	at := func(d time.Duration) time.Time { return a0.Add(d) }
	mk := func(id, state string, next time.Time) store.Delivery {
		return newDelivery(id, a0.Add(-time.Hour), state, next, a0)
	}
	current := map[string]store.Delivery{}
	put := func(ds ...store.Delivery) {
		t.Helper()
		putDeliveries(t, s, ds...)
		for _, d := range ds {
			if old, ok := current[d.ID]; !ok || !d.Updated.Before(old.Updated) {
				current[d.ID] = d
			}
		}
	}
	put(
		mk("due-p1", store.DeliveryPending, at(sec(10))),
		mk("due-p3", store.DeliveryPending, at(sec(5))), // ties with p2: by ID
		mk("due-p2", store.DeliveryPending, at(sec(5))),
		mk("due-p4", store.DeliveryPending, at(sec(20))), // not due yet
		mk("due-p5", store.DeliveryPending, time.Time{}), // as soon as possible
		mk("due-p6", store.DeliveryPending, at(-time.Hour)),
		mk("due-x1", store.DeliveryDelivered, at(0)),
		mk("due-x2", store.DeliveryRejected, at(-time.Hour)),
		mk("due-x3", store.DeliveryDropped, time.Time{}),
		mk("due-x4", store.DeliverySilenced, at(sec(1))),
	)
	check := func(what string, now time.Time, limit int, want string) {
		t.Helper()
		got := dueDeliveries(t, s, now, limit)
		if deliveryIDs(got) != want {
			t.Errorf("%s: DueDeliveries(%v, %d) = %q, want %q", what, now, limit, deliveryIDs(got), want)
			return
		}
		var all []store.Delivery
		for _, d := range current {
			all = append(all, d)
		}
		sameDeliveries(t, what, got, dueModel(all, now, store.DueLimit(limit)))
	}
	check("all due", at(sec(10)), 10, "due-p5 due-p6 due-p2 due-p3 due-p1")
	check("limit", at(sec(10)), 2, "due-p5 due-p6")
	check("limit inside a tie", at(sec(10)), 3, "due-p5 due-p6 due-p2")
	check("a nanosecond early", at(sec(10)-time.Nanosecond), 10, "due-p5 due-p6 due-p2 due-p3")
	check("at a0", at(0), 10, "due-p5 due-p6")
	check("long ago", at(-2*time.Hour), 10, "due-p5")
	check("everything", at(24*time.Hour), 0, "due-p5 due-p6 due-p2 due-p3 due-p1 due-p4")

	// Work moves: p2 is delivered, p4 retried sooner, p1 rescheduled
	// later, p6 silenced; older versions arriving late change nothing.
	p2 := mk("due-p2", store.DeliveryDelivered, at(sec(5)))
	p2.Updated, p2.Attempts, p2.LastCode = a0.Add(sec(1)), 1, 202
	p4 := mk("due-p4", store.DeliveryPending, at(sec(1)))
	p4.Updated = a0.Add(sec(1))
	p1 := mk("due-p1", store.DeliveryPending, at(time.Hour))
	p1.Updated, p1.Attempts, p1.LastCode = a0.Add(sec(1)), 1, 503
	p6 := mk("due-p6", store.DeliverySilenced, at(-time.Hour))
	p6.Updated = a0.Add(sec(1))
	put(p2, p4, p1, p6)
	stale := mk("due-p2", store.DeliveryPending, at(0))
	stale.Updated = a0.Add(time.Second / 2)
	put(stale)
	check("after the moves", at(sec(10)), 10, "due-p5 due-p4 due-p3")
	// Old versions due earlier must not take places within the limit.
	check("after the moves, limit", at(sec(10)), 2, "due-p5 due-p4")
	check("after the moves, later", at(2*time.Hour), 10, "due-p5 due-p4 due-p3 due-p1")
	// A redelivery of what was due: p5 goes through.
	p5 := mk("due-p5", store.DeliveryDelivered, time.Time{})
	p5.Updated = a0.Add(sec(2))
	put(p5)
	check("p5 delivered", at(sec(10)), 10, "due-p4 due-p3")
}

func testIncidentOrder(t *testing.T, s store.AlertStore) {
	open := time.Time{}
	in := []store.Incident{
		newIncident("i-a", a0, open, a0),
		newIncident("i-b", a0.Add(minute(2)), a0.Add(minute(3)), a0),
		newIncident("i-c", a0.Add(minute(1)), open, a0),
		newIncident("i-d", a0.Add(minute(1)), a0.Add(minute(4)), a0), // ties with i-c
		newIncident("i-e", a0.Add(minute(1)), open, a0),              // ties with i-c
		newIncident("i-f", a0.Add(-time.Hour), open, a0),
	}
	putIncidents(t, s, in[3:]...)
	putIncidents(t, s, in[:3]...)
	if got := incidentKeys(listIncidents(t, s, false)); got != "i-b i-e i-d i-c i-a i-f" {
		t.Errorf("Incidents(false) = %q, want i-b i-e i-d i-c i-a i-f", got)
	}
	if got := incidentKeys(listIncidents(t, s, true)); got != "i-e i-c i-a i-f" {
		t.Errorf("Incidents(true) = %q, want i-e i-c i-a i-f", got)
	}
	// i-a resolves, i-b re-opens and moves its StartsAt.
	a := in[0]
	a.EndsAt, a.Updated = a0.Add(minute(9)), a0.Add(sec(1))
	b := in[1]
	b.EndsAt, b.StartsAt, b.Updated = open, a0.Add(-2*time.Hour), a0.Add(sec(1))
	putIncidents(t, s, a, b)
	if got := incidentKeys(listIncidents(t, s, true)); got != "i-e i-c i-f i-b" {
		t.Errorf("Incidents(true) after changes = %q, want i-e i-c i-f i-b", got)
	}
	if got := incidentKeys(listIncidents(t, s, false)); got != "i-e i-d i-c i-a i-f i-b" {
		t.Errorf("Incidents(false) after changes = %q, want i-e i-d i-c i-a i-f i-b", got)
	}
}

func testSilenceOrder(t *testing.T, s store.AlertStore) {
	ss := []store.Silence{
		newSilence("s-a", a0, a0),
		newSilence("s-c", a0.Add(minute(1)), a0),
		newSilence("s-b", a0.Add(minute(1)), a0),  // ties with s-c
		newSilence("s-d", a0.Add(-minute(1)), a0), // expired long ago: still listed
		newSilence("s-e", a0.Add(minute(2)), a0),
	}
	ss[3].EndsAt = a0.Add(-minute(1))
	putSilences(t, s, ss[2:]...)
	putSilences(t, s, ss[:2]...)
	if got := silenceIDs(listSilences(t, s)); got != "s-e s-c s-b s-a s-d" {
		t.Errorf("Silences = %q, want s-e s-c s-b s-a s-d", got)
	}
}

func testAlertIncomplete(t *testing.T, s store.AlertStore) {
	ctx := context.Background()
	okD := newDelivery("ok", a0, store.DeliveryPending, a0, a0)
	for _, bad := range []store.Delivery{
		newDelivery("", a0, store.DeliveryPending, a0, a0),
		newDelivery("a\x00b", a0, store.DeliveryPending, a0, a0),
		newDelivery("a\nb", a0, store.DeliveryPending, a0, a0),
		newDelivery("no-state", a0, "", a0, a0),
		newDelivery("bad-state", a0, "PENDING", a0, a0),
	} {
		if err := s.PutDeliveries(ctx, []store.Delivery{okD, bad}); err == nil {
			t.Errorf("PutDeliveries with id %q, state %q succeeded", bad.ID, bad.State)
		}
	}
	okI := newIncident("ok", a0, time.Time{}, a0)
	for _, bad := range []store.Incident{newIncident("", a0, time.Time{}, a0), newIncident("k\x00", a0, time.Time{}, a0)} {
		if err := s.PutIncidents(ctx, []store.Incident{okI, bad}); err == nil {
			t.Errorf("PutIncidents with key %q succeeded", bad.Key)
		}
	}
	okS := newSilence("ok", a0, a0)
	for _, bad := range []store.Silence{newSilence("", a0, a0), newSilence("s\t1", a0, a0)} {
		if err := s.PutSilences(ctx, []store.Silence{okS, bad}); err == nil {
			t.Errorf("PutSilences with id %q succeeded", bad.ID)
		}
	}
	// A rejected batch stores nothing, not even its valid records.
	if got := deliveryPage(t, s, store.DeliveryQuery{}).Deliveries; len(got) != 0 {
		t.Errorf("deliveries of rejected batches were stored: %s", deliveryIDs(got))
	}
	if got := dueDeliveries(t, s, a0, 0); len(got) != 0 {
		t.Errorf("due deliveries of rejected batches: %s", deliveryIDs(got))
	}
	if got := listIncidents(t, s, false); len(got) != 0 {
		t.Errorf("incidents of rejected batches were stored: %s", incidentKeys(got))
	}
	if got := listSilences(t, s); len(got) != 0 {
		t.Errorf("silences of rejected batches were stored: %s", silenceIDs(got))
	}
	putDeliveries(t, s, okD)
	putIncidents(t, s, okI)
	putSilences(t, s, okS)
	if got := deliveryIDs(dueDeliveries(t, s, a0, 0)); got != "ok" {
		t.Errorf("DueDeliveries = %q, want ok", got)
	}
}

// testAlertConcurrent has writers put their own records and versions of
// shared ones, all at once. Whatever the interleaving, the newest
// versions remain, in the listings and in the work list.
func testAlertConcurrent(t *testing.T, s store.AlertStore) {
	const writers, perWriter = 6, 10
	ctx := context.Background()
	state := func(v int) string { // of the v-th version of a shared record
		return []string{store.DeliveryPending, store.DeliveryDelivered, store.DeliveryRejected}[v%3]
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				v := w*perWriter + i // versions interleave across writers
				label := fmt.Sprintf("w%d-%d", w, i)
				// Own deliveries: pending for even i, due at v seconds.
				ownState := store.DeliveryPending
				if i%2 == 1 {
					ownState = store.DeliveryDelivered
				}
				own := newDelivery(fmt.Sprintf("c%d-%02d", w, i), a0.Add(sec(v)), ownState, a0.Add(sec(v)), a0)
				shared := newDelivery("shared", a0.Add(-time.Hour), state(v), a0.Add(-sec(v)), a0.Add(sec(v)))
				shared.LastError = label
				if err := s.PutDeliveries(ctx, []store.Delivery{own, shared}); err != nil {
					t.Errorf("writer %d: PutDeliveries: %v", w, err)
					return
				}
				in := newIncident("shared", a0, time.Time{}, a0.Add(sec(v)))
				if v%2 == 0 {
					in.EndsAt = a0.Add(sec(v))
				}
				in.Rule = label
				if err := s.PutIncidents(ctx, []store.Incident{in, newIncident(fmt.Sprintf("c%d-%02d", w, i), a0.Add(sec(v)), time.Time{}, a0)}); err != nil {
					t.Errorf("writer %d: PutIncidents: %v", w, err)
					return
				}
				sil := newSilence("shared", a0.Add(-time.Hour), a0.Add(sec(v)))
				sil.Comment = label
				if err := s.PutSilences(ctx, []store.Silence{newSilence(fmt.Sprintf("c%d-%02d", w, i), a0.Add(sec(v)), a0), sil}); err != nil {
					t.Errorf("writer %d: PutSilences: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	const last = writers*perWriter - 1
	lastLabel := fmt.Sprintf("w%d-%d", writers-1, perWriter-1)
	got := allDeliveries(t, s, store.DeliveryQuery{Limit: 7})
	if len(got) != writers*perWriter+1 {
		t.Errorf("Deliveries lists %d, want %d", len(got), writers*perWriter+1)
	}
	if len(got) > 0 {
		if sh := got[len(got)-1]; sh.ID != "shared" || sh.LastError != lastLabel || sh.State != state(last) {
			t.Errorf("oldest delivery is %s %s %s, want shared %s %s", sh.ID, sh.LastError, sh.State, lastLabel, state(last))
		}
	}
	// Own pending ones, oldest first; the shared one is not pending in its
	// newest version (state(59) is rejected), so no version of it shows.
	var want []string
	for v := range writers * perWriter {
		if v%perWriter%2 == 0 {
			want = append(want, fmt.Sprintf("c%d-%02d", v/perWriter, v%perWriter))
		}
	}
	if got := deliveryIDs(dueDeliveries(t, s, a0.Add(time.Hour), store.MaxLimit)); got != strings.Join(want, " ") {
		t.Errorf("DueDeliveries = %q\nwant %q", got, strings.Join(want, " "))
	}
	incidents := listIncidents(t, s, false)
	if len(incidents) != writers*perWriter+1 {
		t.Errorf("%d incidents, want %d", len(incidents), writers*perWriter+1)
	}
	for _, in := range incidents {
		if in.Key == "shared" && (in.Rule != lastLabel || !in.EndsAt.IsZero()) {
			t.Errorf("shared incident is %s (ends %v), want the newest version %s, open", in.Rule, in.EndsAt, lastLabel)
		}
	}
	if open := listIncidents(t, s, true); len(open) != writers*perWriter+1 {
		t.Errorf("%d open incidents, want %d", len(open), writers*perWriter+1)
	}
	silences := listSilences(t, s)
	if len(silences) != writers*perWriter+1 {
		t.Fatalf("Silences: %d, want %d", len(silences), writers*perWriter+1)
	}
	if sh := silences[len(silences)-1]; sh.ID != "shared" || sh.Comment != lastLabel {
		t.Errorf("oldest silence is %s %s, want shared %s", sh.ID, sh.Comment, lastLabel)
	}
}
