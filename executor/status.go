package executor

// RunStatus is where a run is in its life.
type RunStatus string

const (
	RunQueued    RunStatus = "QUEUED"    // accepted, not picked up yet
	RunStarting  RunStatus = "STARTING"  // being prepared
	RunStarted   RunStatus = "STARTED"   // its first step has been launched
	RunSuccess   RunStatus = "SUCCESS"   // every step succeeded
	RunFailure   RunStatus = "FAILURE"   // a step failed (and its downstream was skipped)
	RunCanceling RunStatus = "CANCELING" // cancel asked; running steps are being stopped
	RunCanceled  RunStatus = "CANCELED"
)

// Done reports whether s is final.
func (s RunStatus) Done() bool { return s == RunSuccess || s == RunFailure || s == RunCanceled }

// StepStatus is where a step of a run is.
type StepStatus string

const (
	StepQueued     StepStatus = "QUEUED"       // waiting for its upstream steps or a free slot
	StepStarted    StepStatus = "STARTED"      // an attempt is running
	StepUpForRetry StepStatus = "UP_FOR_RETRY" // an attempt failed; the next waits for its backoff
	StepSuccess    StepStatus = "SUCCESS"
	StepFailure    StepStatus = "FAILURE"  // failed, retries spent (or not retryable)
	StepSkipped    StepStatus = "SKIPPED"  // an upstream step failed
	StepCanceled   StepStatus = "CANCELED" // the run was canceled first
)

// Done reports whether s is final.
func (s StepStatus) Done() bool {
	switch s {
	case StepSuccess, StepFailure, StepSkipped, StepCanceled:
		return true
	}
	return false
}
