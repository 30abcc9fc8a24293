// Package receiver holds Freshet's alert receivers: PagerDuty (Events API
// v2, through go-pagerduty), Datadog (DogStatsD events, service checks and
// a gauge, through datadog-go), Alertmanager (API v2 push) and a generic
// webhook signed with HMAC-SHA256.
//
// Each implements alerts.Receiver and promises: an invalid notification is
// rejected before anything is sent; an HTTP answer is classified the same
// way everywhere (2xx delivered; 429, 408 and 5xx retryable, with the
// Retry-After wait; any other status rejected, with the start of the body);
// a network error or timeout is retryable; secrets are read once from the
// environment variable the config names and never logged, returned in an
// error or echoed from a response body (only the variable's name is logged).
//
// Receivers do not retry, queue or batch: one Send is one attempt, and the
// outbox that will drive them decides when to try again.
//
// The wire formats are in docs/alerts.md; the conformance suite all
// receivers pass is alerts/receivertest.
package receiver
