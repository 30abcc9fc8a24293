package main

// The CLI's view of the REST API (api/openapi.json, docs/api.md): one type
// per wire object, holding only the members some command reads. The CLI is a
// client of the API like any other, so it never decodes into the server's
// internal types (catalog, lineage, freshness): renaming one of those must
// not change what the CLI reads without the API document changing too.
//
// Members are plain JSON values or values of the shared vocabulary in
// package asset (Key, Kind, Metadata, CheckResult, FreshnessPolicy), whose
// JSON form is defined there once for the server and every client. Types
// that mirror one named like a type of package asset take a wire prefix.

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/freshet-dev/freshet/asset"
)

// apiError is the Error schema: the member "error" of every 4xx and 5xx
// answer.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
	Line    int    `json:"line"`
}

// Error returns the message, led by the field at fault and the NDJSON line
// when the server names them.
func (e *apiError) Error() string {
	msg := e.Message
	// Name the field of a rejected input unless the message already does
	// ("404 no asset X" needs no "key:").
	if e.Field != "" && e.Code != "not_found" && !strings.Contains(msg, e.Field) {
		msg = e.Field + ": " + msg
	}
	if e.Line > 0 {
		msg = fmt.Sprintf("line %d: %s", e.Line, msg)
	}
	return msg
}

// errorBody is the body of an error answer: {"error": {...}}.
type errorBody struct {
	Error *apiError `json:"error"`
}

// eventsAccepted is the 202 answer of POST /api/v1/events.
type eventsAccepted struct {
	Accepted int   `json:"accepted"`
	Stored   *bool `json:"stored,omitempty"` // only with ?wait=stored
}

// wireEvent is the Event schema: a stored event, as listed by
// GET /api/v1/assets/{key}/events and embedded in assets and in the
// freshness audit trail.
type wireEvent struct {
	ID       string             `json:"id"`
	Kind     asset.Kind         `json:"kind"`
	Time     time.Time          `json:"time"`
	Metadata asset.Metadata     `json:"metadata"`
	Check    *asset.CheckResult `json:"check"` // of check_result events
}

// eventPage is the EventPage answer of GET /api/v1/assets/{key}/events.
type eventPage struct {
	Events []wireEvent `json:"events"`
}

// wireSpec is the Spec schema, the member "spec" of an asset.
type wireSpec struct {
	Key         asset.Key `json:"key"`
	Description string    `json:"description"`
	Group       string    `json:"group"`
	Owners      []string  `json:"owners"`
	Tags        []string  `json:"tags"`
	Kinds       []string  `json:"kinds"`
	Origin      string    `json:"origin"`
}

// wireAsset is the Asset schema: an item of GET /api/v1/assets.
type wireAsset struct {
	Spec                wireSpec         `json:"spec"`
	LastMaterialization *wireEvent       `json:"last_materialization"`
	LastFailure         *wireEvent       `json:"last_failure"`
	LastObservation     *wireEvent       `json:"last_observation"`
	LastChecks          []wireEvent      `json:"last_checks"`
	Counts              map[string]int64 `json:"counts"`
}

// assetPage is the answer of GET /api/v1/assets. Its assets stay raw so
// that --json prints them as the server sent them.
type assetPage struct {
	Assets     []json.RawMessage `json:"assets"`
	NextCursor string            `json:"next_cursor"`
}

// assetDetail is the answer of GET /api/v1/assets/{key}: an asset with its
// neighbours in the lineage graph.
type assetDetail struct {
	wireAsset
	Upstream   []asset.Key `json:"upstream"`
	Downstream []asset.Key `json:"downstream"`
}

// subgraph is the Subgraph schema, the answer of
// GET /api/v1/assets/{key}/lineage (only the edges are read).
type subgraph struct {
	Edges []subgraphEdge `json:"edges"`
}

type subgraphEdge struct {
	Upstream   asset.Key `json:"upstream"`
	Downstream asset.Key `json:"downstream"`
}

// freshnessResult is the FreshnessResult schema: an item of the list of
// GET /api/v1/freshness, and the member "result" of
// GET /api/v1/assets/{key}/freshness (see assetFreshness).
type freshnessResult struct {
	Key        asset.Key `json:"key"`
	State      string    `json:"state"` // UNKNOWN, PASS, WARN, AT_RISK or FAIL
	LagSeconds float64   `json:"lag_seconds"`
	Deadline   time.Time `json:"deadline"` // absent, so zero, when UNKNOWN
	Reason     string    `json:"reason"`
	RootCause  asset.Key `json:"root_cause"`
}

// Lag returns lag_seconds as a duration, to the nanosecond.
func (r freshnessResult) Lag() time.Duration {
	return time.Duration(math.Round(r.LagSeconds * float64(time.Second)))
}

// freshnessList is the answer of GET /api/v1/freshness (states of the
// assets asked for, counts of every asset).
type freshnessList struct {
	Counts   map[string]int    `json:"counts"` // by state
	Assets   []freshnessResult `json:"assets"`
	Problems []struct {
		Key          asset.Key   `json:"key"`
		FailedChecks []wireEvent `json:"failed_checks"`
		RunFailed    *wireEvent  `json:"run_failed"`
	} `json:"problems"`
	Impacted []struct {
		RootCause asset.Key   `json:"root_cause"`
		Assets    []asset.Key `json:"assets"`
		Total     int         `json:"total"`
	} `json:"impacted"`
}

// effectivePolicy is the EffectivePolicy schema: the answer of
// PUT /api/v1/assets/{key}/freshness/policy, and the member "policy" of the
// answers of DELETE on that path (policyRemoved) and of
// GET /api/v1/assets/{key}/freshness (assetFreshness).
type effectivePolicy struct {
	Policy asset.FreshnessPolicy `json:"policy"`
	Source string                `json:"source"` // file or api
}

// policyRemoved is the answer of DELETE /api/v1/assets/{key}/freshness/policy.
type policyRemoved struct {
	Policy *effectivePolicy `json:"policy"` // null when no policy applies any more
}

// assetFreshness is the answer of GET /api/v1/assets/{key}/freshness (its
// member "history" is not read).
type assetFreshness struct {
	Result *freshnessResult `json:"result"`
	Policy *effectivePolicy `json:"policy"`
	Audit  []wireEvent      `json:"audit"` // freshness_policy_changed events, newest first
}
