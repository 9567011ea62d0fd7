// Why policy dropped a connection, in Cilium's datapath terms: the flow's drop_reason_desc and hubble_drop_total's
// reason label must agree, so both take it from here.
import type { Decision } from '../policy/types.js';

/** POLICY_DENY when a deny rule decided, POLICY_DENIED when no rule allowed it (default deny). */
export function policyDropReason(decision: Decision | undefined): 'POLICY_DENY' | 'POLICY_DENIED' {
  return decision !== undefined && decision.deniedBy.length > 0 ? 'POLICY_DENY' : 'POLICY_DENIED';
}
