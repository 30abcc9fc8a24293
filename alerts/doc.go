// Package alerts is the contract between Freshet's alert pipeline and the
// systems that page people.
//
// It promises two things. A Notification is the one message the pipeline
// produces: one per root cause and rule (its Key), firing or resolved, with
// the impacted downstream assets listed in it. A Receiver delivers a
// Notification to one external system and says how that went: nil
// (delivered), a rejection (permanent: the system refused this message, and
// sending it again would be refused again, so it is never retried), or a
// retryable failure (rate limits, server errors, network errors, with the
// wait the system asked for, if it asked). Classify and RetryAfter read any
// error a Receiver returns.
//
// It refuses everything else: receivers do not retry, queue, group, dedup or
// silence. Those are stages of the pipeline (match, group by root cause,
// inhibit descendants, silence, dedup, durable outbox), which decide when a
// Notification is sent and how often; they are not built yet.
//
// The receivers themselves (PagerDuty Events API v2, Datadog DogStatsD,
// Alertmanager API v2, a signed webhook) live in alerts/receiver, and
// alerts/receivertest holds the conformance suite every receiver passes.
// docs/alerts.md describes their wire formats.
package alerts
