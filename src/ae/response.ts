import { commandSpecs, type CCancelRq, type DimseRequest, type DimseResponse } from '../dimse/messages.js';
import type { ResponseFields } from '../services/scp/registry.js';
import { isWireUid } from '../ul/pdu/values.js';

/** An identifying UID is echoed only when it is one (U(=) in every response, PS3.7 9.3, 10.3): the peer's garbage would fail our encoder. */
const echoable = (v: unknown): v is string => typeof v === 'string' && isWireUid(v);

/** The response to `request` with the handler's fields; identifying fields are filled from the request (PS3.7 9.3, 10.3). */
export function responseFor(request: Exclude<DimseRequest, CCancelRq>, fields: Omit<ResponseFields, 'dataset'>, hasDataset: boolean): DimseResponse {
  const type = request.type.replace(/-RQ$/, '-RSP') as DimseResponse['type'];
  const spec = commandSpecs[type];
  const allowed = new Set<string>([...spec.required, ...spec.optional]);
  const r = request as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { type, messageIdBeingRespondedTo: request.messageId };
  const sopClass = r['affectedSopClassUid'] ?? r['requestedSopClassUid'];
  const sopInstance = r['affectedSopInstanceUid'] ?? r['requestedSopInstanceUid'];
  if (allowed.has('affectedSopClassUid') && echoable(sopClass)) out['affectedSopClassUid'] = sopClass;
  if (allowed.has('affectedSopInstanceUid') && echoable(sopInstance)) out['affectedSopInstanceUid'] = sopInstance;
  if (allowed.has('eventTypeId') && r['eventTypeId'] !== undefined) out['eventTypeId'] = r['eventTypeId'];
  if (allowed.has('actionTypeId') && r['actionTypeId'] !== undefined) out['actionTypeId'] = r['actionTypeId'];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  out['hasDataset'] = hasDataset;
  return out as unknown as DimseResponse;
}
