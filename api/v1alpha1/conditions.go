package v1alpha1

// Condition types. Ready, Reconciling and Stalled follow kstatus
// (sigs.k8s.io/cli-utils/pkg/kstatus); the domain conditions state their
// polarity and are removed once they no longer apply.
//
//	forkline working (merging, rendering)          Reconciling=True, Ready=False  -> InProgress
//	Porch, git or the API server unavailable       Reconciling=True, Ready=False  -> InProgress
//	waiting on a person (proposed, conflicted,     Ready=True, reason and message
//	  edited, declined, suspended, release too       say what the person can do   -> Current
//	  new, nothing matching yet)
//	up to date                                     Ready=True (UpToDate)          -> Current
//	a spec or content error a person must fix      Stalled=True, Ready=False      -> Failed
const (
	// ConditionReady is True when forkline has done all it can on its own:
	// the downstream is up to date, or the next move is a person's (the
	// reason says which). False while it works or when a person must fix
	// something (then Stalled is True).
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
	// ConditionAwaitingApproval is True while a proposed draft waits
	// (abnormal-true): for a person (reason Proposed), or, with Automatic
	// approval, for the gate its reason names: NotClean, Held,
	// OutsideWindow, RateLimited or PolicyRateLimited; the message says
	// when that gate opens.
	ConditionAwaitingApproval = "AwaitingApproval"
	// ConditionLockedCommit is True when forkline reads the upstream's git
	// itself and merges from the commit the downstream locks (normal-true);
	// False (IntegrityChecksOff) says why it cannot: an OCI upstream, or
	// credentials it may not read.
	ConditionLockedCommit = "LockedCommit"
	// ConditionUpstreamReleaseMoved is True while a release tag forkline
	// took or proposed names another commit than the one it used
	// (abnormal-true): BaseMoved or TargetMoved.
	ConditionUpstreamReleaseMoved = "UpstreamReleaseMoved"
	// ConditionReleaseVerified is set with spec.upstream.verify: True when
	// the target release's signature verifies, False (ReleaseNotVerified)
	// when it does not (normal-true).
	ConditionReleaseVerified = "ReleaseVerified"
)
