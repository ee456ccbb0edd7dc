import { commandSpecs, type CCancelRq, type DimseRequest, type DimseResponse } from '../dimse/messages.js';
import type { ResponseFields } from '../services/scp/registry.js';
import { isWireUid } from '../ul/pdu/values.js';

/** An identifying UID is echoed only when it is one (U(=) in every response, PS3.7 9.3, 10.3): the peer's garbage would fail our encoder. */
const echoable = (v: unknown): v is string => typeof v === 'string' && isWireUid(v);

/** Which identifying fields a response type carries, looked up once per type (a Set per response was per-instance garbage). */
interface Echoes {
  readonly type: DimseResponse['type'];
  readonly sopClass: boolean;
  readonly sopInstance: boolean;
  readonly eventTypeId: boolean;
  readonly actionTypeId: boolean;
}
const echoes = new Map<string, Echoes>();

function echoesOf(requestType: string): Echoes {
  let e = echoes.get(requestType);
  if (e === undefined) {
    const type = requestType.replace(/-RQ$/, '-RSP') as DimseResponse['type'];
    const spec = commandSpecs[type];
    const allowed = new Set<string>([...spec.required, ...spec.optional]);
    e = {
      type,
      sopClass: allowed.has('affectedSopClassUid'),
      sopInstance: allowed.has('affectedSopInstanceUid'),
      eventTypeId: allowed.has('eventTypeId'),
      actionTypeId: allowed.has('actionTypeId'),
    };
    echoes.set(requestType, e);
  }
  return e;
}

/** The response to `request` with the handler's fields (but its `dataset`); identifying fields are filled from the request (PS3.7 9.3, 10.3). */
export function responseFor(request: Exclude<DimseRequest, CCancelRq>, fields: ResponseFields, hasDataset: boolean): DimseResponse {
  const e = echoesOf(request.type);
  const r = request as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { type: e.type, messageIdBeingRespondedTo: request.messageId };
  const sopClass = r['affectedSopClassUid'] ?? r['requestedSopClassUid'];
  const sopInstance = r['affectedSopInstanceUid'] ?? r['requestedSopInstanceUid'];
  if (e.sopClass && echoable(sopClass)) out['affectedSopClassUid'] = sopClass;
  if (e.sopInstance && echoable(sopInstance)) out['affectedSopInstanceUid'] = sopInstance;
  if (e.eventTypeId && r['eventTypeId'] !== undefined) out['eventTypeId'] = r['eventTypeId'];
  if (e.actionTypeId && r['actionTypeId'] !== undefined) out['actionTypeId'] = r['actionTypeId'];
  const f = fields as unknown as Record<string, unknown>;
  // `dataset` is the caller's (it goes out after the command), not a command field.
  for (const k in f) if (k !== 'dataset' && f[k] !== undefined) out[k] = f[k];
  out['hasDataset'] = hasDataset;
  return out as unknown as DimseResponse;
}
