package v1alpha1

// Condition types. Ready, Reconciling and Stalled follow kstatus; the domain
// conditions state their polarity.
const (
	// ConditionReady is True when the downstream is in step with the target
	// and nothing waits.
	ConditionReady = "Ready"
	// ConditionReconciling is True while forkline is making progress.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when forkline cannot progress without a person
	// changing the spec or its inputs.
	ConditionStalled = "Stalled"
	// ConditionUpToDate is True when the published downstream is on the
	// target upstream revision (normal-true).
	ConditionUpToDate = "UpToDate"
	// ConditionConflicted is True while the draft holds unresolved merge
	// conflicts (abnormal-true).
	ConditionConflicted = "Conflicted"
	// ConditionAwaitingApproval is True while a proposed draft waits for a
	// person or an approval window (abnormal-true).
	ConditionAwaitingApproval = "AwaitingApproval"
)
