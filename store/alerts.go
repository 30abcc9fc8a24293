package store

import (
	"context"
	"fmt"
	"time"
)

// AlertStore keeps what alerting must not lose across a restart: the
// outbox of deliveries (every notification is recorded before it is
// sent, and every attempt after), the incidents that are open (so a
// restart neither pages twice nor forgets to resolve), and silences.
// Both stores implement it; storetest.RunAlerts is its conformance suite.
//
// As for runs, records are upserts by version: a record replaces the
// stored one with the same key only if its Updated is not older, so
// writers may retry and flush out of order; of several records with one
// key in a batch, the newest wins, and of equal ones the later.
//
// Every record needs its key, and a delivery a known state (see
// CheckDeliveries, CheckIncidents, CheckSilences): a batch holding one
// without is rejected whole, and nothing of it stored.
type AlertStore interface {
	// PutDeliveries upserts deliveries by ID.
	PutDeliveries(ctx context.Context, ds []Delivery) error
	// Deliveries pages through deliveries, newest Created first (ties by
	// ID descending), filtered by q.
	Deliveries(ctx context.Context, q DeliveryQuery) (DeliveryPage, error)
	// DueDeliveries returns the deliveries in state DeliveryPending whose
	// NextAttempt is at or before now, oldest NextAttempt first (ties by
	// ID ascending), at most limit (0 or less means DefaultLimit; capped
	// at MaxLimit): the outbox's work list, also after a restart.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// PutIncidents upserts incidents by Key.
	PutIncidents(ctx context.Context, in []Incident) error
	// Incidents returns incidents, newest StartsAt first (ties by Key
	// descending); with open only those not resolved (EndsAt zero).
	Incidents(ctx context.Context, open bool) ([]Incident, error)
	// PutSilences upserts silences by ID.
	PutSilences(ctx context.Context, ss []Silence) error
	// Silences returns every silence (expired ones included), newest
	// Created first (ties by ID descending).
	Silences(ctx context.Context) ([]Silence, error)
}

// Delivery states.
const (
	DeliveryPending   = "pending"   // to send, at NextAttempt
	DeliveryDelivered = "delivered" // the receiver took it
	DeliveryRejected  = "rejected"  // the receiver refused it for good (a 4xx other than 429)
	DeliveryDropped   = "dropped"   // given up: retries spent, or superseded
	DeliverySilenced  = "silenced"  // recorded, not sent: a silence covered it
)

// Delivery is one notification for one receiver and its attempts so far.
type Delivery struct {
	ID       string
	Receiver string
	Key      string // the incident's dedup key
	Status   string // firing or resolved: what the notification says
	// Notification is the notification as JSON (alerts.Notification):
	// the store keeps it opaque.
	Notification []byte
	State        string
	Attempts     int
	NextAttempt  time.Time
	LastCode     int           // the receiver's last answer (HTTP status), 0 if none
	LastError    string        // the last failure, with the receiver's body for a rejection
	LastLatency  time.Duration // of the last attempt
	Created      time.Time
	Updated      time.Time // version
}

// DeliveryQuery selects deliveries. Zero fields do not filter.
type DeliveryQuery struct {
	States   []string
	Receiver string
	Key      string
	Cursor   string // from a previous page's Next: EncodeCursor of (Created, ID)
	Limit    int    // 0 means DefaultLimit; capped at MaxLimit
}

// EffectiveLimit applies the default and the cap.
func (q DeliveryQuery) EffectiveLimit() int { return EventQuery{Limit: q.Limit}.EffectiveLimit() }

// DeliveryPage is one page of deliveries; Next is empty on the last page.
type DeliveryPage struct {
	Deliveries []Delivery
	Next       string
}

// Incident is one alert, keyed by its dedup key (rule + root cause): open
// while EndsAt is zero.
type Incident struct {
	Key       string
	Rule      string
	RootCause string
	// Notification is the latest firing notification as JSON.
	Notification []byte
	StartsAt     time.Time
	EndsAt       time.Time // zero while open
	LastSent     time.Time // for the rule's repeat interval
	Updated      time.Time // version
}

// Silence mutes the alerts whose subject its selector matches, from
// StartsAt until EndsAt. Expiring a silence sets EndsAt to the time of
// expiry.
type Silence struct {
	ID string
	// Selector is the selection as JSON (the alerting package's type):
	// keys, key prefix, group, owner, tag, kind, rule.
	Selector  []byte
	Comment   string
	CreatedBy string
	StartsAt  time.Time
	EndsAt    time.Time
	Created   time.Time
	Updated   time.Time // version
}

// DueLimit applies DueDeliveries' default and cap to its limit.
func DueLimit(limit int) int { return EventQuery{Limit: limit}.EffectiveLimit() }

// CheckDeliveries returns an error naming the first delivery without a
// usable ID (empty, or holding a control character, as for run ids) or
// whose State is not one of the Delivery* states.
func CheckDeliveries(ds []Delivery) error {
	for i := range ds {
		d := &ds[i]
		if why := badRunID(d.ID); why != "" {
			return fmt.Errorf("delivery %d (id %q): id %s", i, d.ID, why)
		}
		switch d.State {
		case DeliveryPending, DeliveryDelivered, DeliveryRejected, DeliveryDropped, DeliverySilenced:
		default:
			return fmt.Errorf("delivery %d (id %q): unknown state %q", i, d.ID, d.State)
		}
	}
	return nil
}

// CheckIncidents returns an error naming the first incident without a
// usable Key (empty, or holding a control character).
func CheckIncidents(in []Incident) error {
	for i := range in {
		if why := badRunID(in[i].Key); why != "" {
			return fmt.Errorf("incident %d (key %q): key %s", i, in[i].Key, why)
		}
	}
	return nil
}

// CheckSilences returns an error naming the first silence without a
// usable ID (empty, or holding a control character).
func CheckSilences(ss []Silence) error {
	for i := range ss {
		if why := badRunID(ss[i].ID); why != "" {
			return fmt.Errorf("silence %d (id %q): id %s", i, ss[i].ID, why)
		}
	}
	return nil
}
