// An L7 allow rule as the native peers (haproxy, nginx) express it, so each bench states its policy once.

/** Requests from one of `allowedSources` (addresses or CIDRs), with `method` (any when absent), to one of `allowedPaths` pass; anything else gets 403. */
export interface HttpAllowRule {
  readonly allowedSources: readonly string[];
  readonly method?: string;
  readonly allowedPaths: readonly string[];
}

/** The Star Wars L7 policy (sw_l3_l4_l7_policy.yaml) for tiefighters at `sources`: only POST /v1/request-landing. */
export function landingRule(sources: readonly string[]): HttpAllowRule {
  return { allowedSources: sources, method: 'POST', allowedPaths: ['/v1/request-landing'] };
}
