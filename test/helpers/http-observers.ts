// Observers for HTTP proxy tests that keep what they are given: every flow event and every metric call,
// so tests can assert on exactly what the listener reported (rendering is tested by its owner).
import assert from 'node:assert/strict';
import type { FlowEvent, FlowRecorder, Metrics } from '../../src/observe/types.js';

export class RecordingFlows implements FlowRecorder {
  readonly events: FlowEvent[] = [];
  readonly enabled = true;
  record(event: FlowEvent): void {
    this.events.push(event);
  }
  /** L7 events of one kind, in order. */
  l7(type: 'REQUEST' | 'RESPONSE'): FlowEvent[] {
    return this.events.filter((e) => e.type === 'L7' && e.l7?.type === type);
  }
  l3l4(): FlowEvent[] {
    return this.events.filter((e) => e.type === 'L3_L4');
  }
  /**
   * The exchanges that failed after the request was allowed and that the proxy answered itself: ERROR records
   * carrying the allowing decision (a request rejected before policy has none), in the request's direction (never
   * a RESPONSE from a destination that did not answer), each checked for that shape.
   */
  failures(): FlowEvent[] {
    const failed = this.events.filter((e) => e.type === 'L7' && e.verdict === 'ERROR' && e.l7?.http !== undefined && e.decision !== undefined);
    for (const e of failed) {
      assert.equal(e.l7!.type, 'REQUEST', 'a failure is not a response record');
      assert.equal(e.isReply, false);
      assert.equal(typeof e.l7!.latencyNs, 'bigint', 'a failure has the latency since its request');
    }
    return failed;
  }
  clear(): void {
    this.events.length = 0;
  }
}

export type MetricCall = readonly [name: string, ...args: ReadonlyArray<string | number>];

export class RecordingMetrics implements Metrics {
  readonly calls: MetricCall[] = [];
  policyL7(rule: string, proxyType: string): void {
    this.calls.push(['policyL7', rule, proxyType]);
  }
  httpRequest(method: string, protocol: string, status: number): void {
    this.calls.push(['httpRequest', method, protocol, status]);
  }
  drop(reason: string, protocol: string): void {
    this.calls.push(['drop', reason, protocol]);
  }
  kafkaRequest(apiKey: string, errorCode: number, verdict: string): void {
    this.calls.push(['kafkaRequest', apiKey, errorCode, verdict]);
  }
  connectionOpened(listener: string): void {
    this.calls.push(['connectionOpened', listener]);
  }
  connectionClosed(listener: string): void {
    this.calls.push(['connectionClosed', listener]);
  }
  upstreamRetry(listener: string, reason: string): void {
    this.calls.push(['upstreamRetry', listener, reason]);
  }
  /** Calls of one metric, without the name. */
  of(name: string): Array<ReadonlyArray<string | number>> {
    return this.calls.filter((c) => c[0] === name).map((c) => c.slice(1));
  }
  clear(): void {
    this.calls.length = 0;
  }
}
