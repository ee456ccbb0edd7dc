/**
 * The audit messages this process records, as XML, in order: what the audit tests compare with
 * what a repository received. Subscribe in `before`, unsubscribe in `after`.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames } from '../../src/diagnostics.js';

export interface RecordedAudit {
  /** Every 'recorded' message's XML since start(). */
  readonly xml: string[];
  start(): void;
  stop(): void;
}

export function recordAudit(): RecordedAudit {
  const xml: string[] = [];
  const onAudit = (m: unknown): void => {
    const e = m as { kind: string; xml?: string };
    if (e.kind === 'recorded') xml.push(e.xml!);
  };
  return {
    xml,
    start: () => diagnosticsChannel.subscribe(channelNames.audit, onAudit),
    stop: () => diagnosticsChannel.unsubscribe(channelNames.audit, onAudit),
  };
}
