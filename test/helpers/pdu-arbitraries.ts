/**
 * fast-check arbitraries for valid PDUs (PS3.8 9.3): every value is one the encoder accepts and
 * the decoder gives back unchanged, so `decodePdu(encodePdu(p))` must deep-equal `p`.
 */
import fc from 'fast-check';
import type {
  AAssociateAcPdu,
  AAssociateRqPdu,
  PDataTfPdu,
  Pdu,
  PresentationContextResultCode,
  UserIdentityTypeCode,
  UserInformationItem,
} from '../../src/ul/pdu/types.js';

const printable = (chars: string): fc.Arbitrary<string> => fc.constantFrom(...chars.split(''));
const AE_CHARS = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => c !== '\\').join('');

/** 1–16 characters, no backslash, no leading/trailing space (the decoder trims those). */
export const aeTitle = fc
  .string({ unit: printable(AE_CHARS), minLength: 1, maxLength: 16 })
  .filter((s) => s.trim() === s && s.length > 0);

export const uid = fc
  .array(fc.nat({ max: 99999 }), { minLength: 1, maxLength: 10 })
  .map((parts) => parts.join('.'))
  .filter((s) => s.length <= 64);

const oddId = fc.integer({ min: 0, max: 127 }).map((n) => 2 * n + 1);
const bytes = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength });

const versionName = fc.string({ unit: printable(AE_CHARS), minLength: 1, maxLength: 16 }).filter((s) => s.trim() === s && s.length > 0);

function userInformation(isRq: boolean): fc.Arbitrary<UserInformationItem> {
  return fc.record({
    maximumLength: fc.option(fc.nat({ max: 0xffffffff }), { nil: undefined }),
    implementationClassUid: fc.option(uid, { nil: undefined }),
    implementationVersionName: fc.option(versionName, { nil: undefined }),
    asynchronousOperationsWindow: fc.option(
      fc.record({ maxOperationsInvoked: fc.nat({ max: 0xffff }), maxOperationsPerformed: fc.nat({ max: 0xffff }) }),
      { nil: undefined },
    ),
    roleSelections: fc.array(fc.record({ sopClassUid: uid, scuRole: fc.boolean(), scpRole: fc.boolean() }), { maxLength: 3 }),
    sopClassExtendedNegotiations: fc.array(fc.record({ sopClassUid: uid, serviceClassApplicationInformation: bytes(40) }), { maxLength: 3 }),
    sopClassCommonExtendedNegotiations: isRq
      ? fc.array(fc.record({ sopClassUid: uid, serviceClassUid: uid, relatedGeneralSopClassUids: fc.array(uid, { maxLength: 3 }) }), { maxLength: 2 })
      : fc.constant([]),
    userIdentityRq: isRq
      ? fc.option(
          fc.record({
            identityType: fc.integer({ min: 1, max: 5 }).map((n) => n as UserIdentityTypeCode),
            positiveResponseRequested: fc.boolean(),
            primaryField: bytes(300),
            secondaryField: bytes(40),
          }),
          { nil: undefined },
        )
      : fc.constant(undefined),
    userIdentityAc: isRq ? fc.constant(undefined) : fc.option(fc.record({ serverResponse: bytes(300) }), { nil: undefined }),
    unknownSubItems: fc.array(
      fc.record({
        itemType: fc.integer({ min: 0, max: 255 }).filter((t) => t < 0x51 || t > 0x59),
        data: bytes(30),
      }),
      { maxLength: 3 },
    ),
  });
}

const uniqueIds = <T extends { id: number }>(arr: T[]): boolean => new Set(arr.map((x) => x.id)).size === arr.length;

export const associateRq: fc.Arbitrary<AAssociateRqPdu> = fc.record({
  type: fc.constant('A-ASSOCIATE-RQ' as const),
  protocolVersion: fc.nat({ max: 0xffff }),
  calledAeTitle: aeTitle,
  callingAeTitle: aeTitle,
  applicationContextName: uid,
  presentationContexts: fc
    .array(fc.record({ id: oddId, abstractSyntax: uid, transferSyntaxes: fc.array(uid, { minLength: 1, maxLength: 4 }) }), { minLength: 1, maxLength: 5 })
    .filter(uniqueIds),
  userInformation: userInformation(true),
});

const acContext = fc
  .record({ id: oddId, result: fc.integer({ min: 0, max: 4 }).map((n) => n as PresentationContextResultCode), transferSyntax: uid, empty: fc.boolean() })
  .map(({ id, result, transferSyntax, empty }) => ({ id, result, transferSyntax: result !== 0 && empty ? '' : transferSyntax }));

export const associateAc: fc.Arbitrary<AAssociateAcPdu> = fc.record({
  type: fc.constant('A-ASSOCIATE-AC' as const),
  protocolVersion: fc.nat({ max: 0xffff }),
  calledAeTitle: aeTitle,
  callingAeTitle: aeTitle,
  applicationContextName: uid,
  presentationContexts: fc.array(acContext, { minLength: 1, maxLength: 5 }).filter(uniqueIds),
  userInformation: userInformation(false),
});

export const pDataTf: fc.Arbitrary<PDataTfPdu> = fc.record({
  type: fc.constant('P-DATA-TF' as const),
  pdvs: fc.array(
    fc.record({ presentationContextId: oddId, isCommand: fc.boolean(), isLast: fc.boolean(), data: bytes(2000) }),
    { minLength: 1, maxLength: 4 },
  ),
});

const u8 = fc.nat({ max: 255 });

const anyPduRaw: fc.Arbitrary<Pdu> = fc.oneof(
  associateRq,
  associateAc,
  pDataTf,
  fc.record({ type: fc.constant('A-ASSOCIATE-RJ' as const), result: u8, source: u8, reason: u8 }),
  fc.constant({ type: 'A-RELEASE-RQ' as const }),
  fc.constant({ type: 'A-RELEASE-RP' as const }),
  fc.record({ type: fc.constant('A-ABORT' as const), source: u8, reason: u8 }),
);

/** Split `total` bytes into chunks at arbitrary points. */
export function chunking(total: number): fc.Arbitrary<number[]> {
  return fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, total - 1) }), { maxLength: 20 }).map((cuts) =>
    cuts.filter((c) => c < total).sort((a, b) => a - b),
  );
}

export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Any valid PDU, as plain objects (fast-check records have a null prototype). */
export const anyPdu: fc.Arbitrary<Pdu> = anyPduRaw.map((p) => structuredClone(p));
