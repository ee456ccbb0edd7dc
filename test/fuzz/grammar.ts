/**
 * What the live fuzzer sends: seed conversations (an A-ASSOCIATE-RQ, then P-DATA-TF PDUs, then an
 * A-RELEASE-RQ), and fast-check models of every entry point to mutate them with: raw
 * A-ASSOCIATE-RQs (AE titles, UIDs and user-information sub-items of any bytes, user identity of
 * every type), DIMSE command sets (known and unknown elements, right and wrong lengths and
 * values), data sets and identifiers (element framing, undefined lengths, sequences, delimiters),
 * PDV fragmentation, and byte mutations of any PDU. Everything is bytes: none of it goes through
 * the encoders under test, which would refuse most of it.
 */
import fc from 'fast-check';
import { buildAssociateRq } from '../../src/acse/negotiate.js';
import { encodeCommand } from '../../src/dimse/messages.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { encodeDataset } from '../helpers/dicom-data.js';
import { A_RELEASE_RQ, lengthPrefixed, rawAssociateRq, rawCommandSet, rawPData, u16, u32 } from '../helpers/raw-pdu.js';

export const VERIFICATION = '1.2.840.10008.1.1';
export const CT = '1.2.840.10008.5.1.4.1.1.2';
export const STUDY_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
export const PATIENT_FIND = '1.2.840.10008.5.1.4.1.2.1.1';
export const STUDY_MOVE = '1.2.840.10008.5.1.4.1.2.2.2';
export const STUDY_GET = '1.2.840.10008.5.1.4.1.2.2.3';
export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** One fuzz case: the RQ, then (once an AC came back) the rest, each element one write. */
export interface Conversation {
  readonly rq: Uint8Array;
  readonly then: readonly Uint8Array[];
}

/** Presentation context IDs of the seed RQ, in this order (buildPresentationContexts numbers 1, 3, 5, …). */
const SEED_SYNTAXES = [VERIFICATION, CT, STUDY_FIND, PATIENT_FIND, STUDY_MOVE, STUDY_GET] as const;
const pcOf = (sop: string): number => 2 * SEED_SYNTAXES.indexOf(sop as (typeof SEED_SYNTAXES)[number]) + 1;

type Identity = Parameters<typeof buildAssociateRq>[0]['userIdentity'];
const IDENTITIES: readonly (Identity | undefined)[] = [
  undefined,
  { type: 'username', username: 'fuzz', positiveResponseRequested: true },
  { type: 'username-passcode', username: 'fuzz', passcode: 'secret' },
  { type: 'jwt', token: 'eyJhbGciOiJub25lIn0.e30.', positiveResponseRequested: true },
  { type: 'saml', assertion: '<saml:Assertion/>' },
  { type: 'kerberos', ticket: Uint8Array.of(0x6e, 0x82, 1, 2) },
];

/** A valid RQ proposing every seed syntax, with identity number `identity` and the optional negotiation items. */
export function seedRq(identity = 0, extras = false): Uint8Array {
  const userIdentity = IDENTITIES[identity % IDENTITIES.length];
  return encodePdu(
    buildAssociateRq({
      callingAeTitle: 'FUZZER',
      calledAeTitle: 'FUZZ-SCP',
      presentationContexts: SEED_SYNTAXES.map((s) => ({ abstractSyntax: s, transferSyntaxes: [IMPLICIT_LE, EXPLICIT_LE] })),
      ...(userIdentity === undefined ? {} : { userIdentity }),
      // The seeds pipeline their requests: a window, or the server rightly aborts (PS3.7 D.3.3.3).
      asynchronousOperations: { maxOperationsInvoked: 4, maxOperationsPerformed: 1 },
      ...(extras
        ? {
            roles: [{ sopClassUid: CT, scuRole: true, scpRole: true }],
            sopClassExtended: [{ sopClassUid: STUDY_FIND, serviceClassApplicationInformation: Uint8Array.of(1, 1, 1) }],
            sopClassCommonExtended: [{ sopClassUid: CT, serviceClassUid: '1.2.840.10008.4.2', relatedGeneralSopClassUids: [] }],
          }
        : {}),
    }),
  );
}

const command = (c: Parameters<typeof encodeCommand>[0]): Uint8Array => encodeCommand(c);
const dataset = (elements: Parameters<typeof encodeDataset>[0]): Uint8Array => Uint8Array.from(encodeDataset(elements, { explicit: false }));

/** A small CT instance: enough for the store to index it. */
export const SEED_INSTANCE = dataset([
  [0x00080016, 'UI', CT],
  [0x00080018, 'UI', '1.2.826.0.1.3680043.10.1.1'],
  [0x00100010, 'PN', 'FUZZ^SEED'],
  [0x00100020, 'LO', 'FUZZ1'],
  [0x0020000d, 'UI', '1.2.826.0.1.3680043.10.1.2'],
  [0x0020000e, 'UI', '1.2.826.0.1.3680043.10.1.3'],
  [0x7fe00010, 'OW', new Uint8Array(16)],
]);

export const SEED_IDENTIFIER = dataset([
  [0x00080052, 'CS', 'STUDY'],
  [0x00100010, 'PN', '*'],
  [0x0020000d, 'UI', ''],
]);

/** The seed corpus: one conversation per service, each ending with an A-RELEASE-RQ. */
export function seedConversations(): Conversation[] {
  const echo = rawPData(pcOf(VERIFICATION), true, true, command({ type: 'C-ECHO-RQ', messageId: 1, affectedSopClassUid: VERIFICATION }));
  const store = [
    rawPData(pcOf(CT), true, true, command({ type: 'C-STORE-RQ', messageId: 2, affectedSopClassUid: CT, affectedSopInstanceUid: '1.2.826.0.1.3680043.10.1.1', priority: 0, hasDataset: true })),
    rawPData(pcOf(CT), false, true, SEED_INSTANCE),
  ];
  const find = (sop: string, id: number): Uint8Array[] => [
    rawPData(pcOf(sop), true, true, command({ type: 'C-FIND-RQ', messageId: id, affectedSopClassUid: sop, priority: 0, hasDataset: true })),
    rawPData(pcOf(sop), false, true, SEED_IDENTIFIER),
  ];
  const get = [
    rawPData(pcOf(STUDY_GET), true, true, command({ type: 'C-GET-RQ', messageId: 5, affectedSopClassUid: STUDY_GET, priority: 0, hasDataset: true })),
    rawPData(pcOf(STUDY_GET), false, true, dataset([[0x00080052, 'CS', 'STUDY'], [0x0020000d, 'UI', '1.2.826.0.1.3680043.10.1.2']])),
  ];
  const move = [
    rawPData(pcOf(STUDY_MOVE), true, true, command({ type: 'C-MOVE-RQ', messageId: 6, affectedSopClassUid: STUDY_MOVE, priority: 0, moveDestination: 'NOWHERE', hasDataset: true })),
    rawPData(pcOf(STUDY_MOVE), false, true, dataset([[0x00080052, 'CS', 'STUDY'], [0x0020000d, 'UI', '1.2.826.0.1.3680043.10.1.2']])),
  ];
  return [
    { rq: seedRq(0), then: [echo, A_RELEASE_RQ] },
    { rq: seedRq(1, true), then: [...store, echo, A_RELEASE_RQ] },
    { rq: seedRq(2), then: [...find(STUDY_FIND, 3), A_RELEASE_RQ] },
    { rq: seedRq(3, true), then: [...find(PATIENT_FIND, 4), ...get, A_RELEASE_RQ] },
    { rq: seedRq(4), then: [...move, echo, A_RELEASE_RQ] },
    { rq: seedRq(5), then: [...store, ...find(STUDY_FIND, 7), A_RELEASE_RQ] },
  ];
}

// ---- models of the entry points --------------------------------------------------------------------

const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);
/** Strings as a hostile peer writes them: valid-looking, almost valid, or any bytes. */
const uidish = fc.oneof(
  fc.constantFrom(VERIFICATION, CT, STUDY_FIND, IMPLICIT_LE, EXPLICIT_LE, '1.2.840.10008.3.1.1.1', '', '1.2.3a', '1..2', '.1', '1.2.3\\4', '1.02.3'),
  fc.array(fc.nat({ max: 99999 }), { minLength: 1, maxLength: 14 }).map((p) => p.join('.')),
  fc.uint8Array({ maxLength: 70 }).map(latin1),
);
const aeish = fc.oneof(
  fc.constantFrom('FUZZ-SCP', 'ANY-SCP', 'FUZZER', '', '                ', 'A\\B', 'X\x00Y', 'caf\xe9', 'TAB\tX'),
  fc.uint8Array({ maxLength: 16 }),
);
const bytesOf = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const utf = (s: string): Uint8Array => new TextEncoder().encode(s);

/** User-information sub-items (PS3.7 D.3.3), well- and ill-formed. */
const userItem: fc.Arbitrary<{ type: number; value: Uint8Array }> = fc.oneof(
  fc.record({ type: fc.constant(0x51), value: fc.oneof(fc.constantFrom(0, 1, 6, 7, 1024, 16384, 0xffffffff).map((n) => Uint8Array.from(u32(n))), bytesOf(6)) }),
  fc.record({ type: fc.constant(0x52), value: uidish.map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff)) }),
  fc.record({ type: fc.constant(0x55), value: fc.oneof(fc.constant(utf('FUZZ_1')), bytesOf(20)) }),
  fc.record({ type: fc.constant(0x53), value: fc.oneof(fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([a, b]) => Uint8Array.from([...u16(a), ...u16(b)])), bytesOf(6)) }),
  fc.record({ type: fc.constant(0x54), value: fc.tuple(uidish, fc.nat(3), fc.nat(3)).map(([s, a, b]) => Uint8Array.from([...lengthPrefixed(s), a, b])) }),
  fc.record({ type: fc.constant(0x56), value: fc.tuple(uidish, bytesOf(8)).map(([s, i]) => Uint8Array.from([...lengthPrefixed(s), ...i])) }),
  fc.record({
    type: fc.constant(0x57),
    value: fc.tuple(uidish, uidish, fc.array(uidish, { maxLength: 3 })).map(([a, b, rel]) => {
      const r = rel.flatMap((x) => lengthPrefixed(x));
      return Uint8Array.from([...lengthPrefixed(a), ...lengthPrefixed(b), ...u16(r.length), ...r]);
    }),
  }),
  fc.record({
    type: fc.constant(0x58),
    value: fc
      .tuple(fc.nat(7), fc.nat(2), fc.oneof(fc.constant(utf('fuzz')), bytesOf(40)), fc.oneof(fc.constant(new Uint8Array(0)), bytesOf(20)))
      .map(([t, pos, a, b]) => Uint8Array.from([t, pos, ...u16(a.length), ...a, ...u16(b.length), ...b])),
  }),
  fc.record({ type: fc.nat(255), value: bytesOf(24) }),
);

/** A-ASSOCIATE-RQ with any field values (PS3.8 Table 9-11), structurally sound so the values are reached. */
export const rawRq: fc.Arbitrary<Uint8Array> = fc
  .record({
    called: aeish,
    calling: aeish,
    applicationContext: fc.oneof(fc.constant('1.2.840.10008.3.1.1.1'), uidish),
    contexts: fc.array(
      fc.record({ id: fc.oneof(fc.constantFrom(1, 3, 5), fc.nat(255)), abstractSyntax: uidish, transferSyntaxes: fc.array(uidish, { minLength: 1, maxLength: 3 }) }),
      { minLength: 1, maxLength: 4 },
    ),
    userItems: fc.array(userItem, { maxLength: 5 }),
  })
  .map((r) => rawAssociateRq(r));

const KNOWN_ELEMENTS = [0x0002, 0x0003, 0x0100, 0x0110, 0x0120, 0x0600, 0x0700, 0x0800, 0x0900, 0x0901, 0x0902, 0x0903, 0x1000, 0x1001, 0x1002, 0x1005, 0x1008, 0x1020, 0x1030, 0x1031];
const COMMAND_FIELDS = [0x0001, 0x0020, 0x0021, 0x0010, 0x0030, 0x0fff, 0x0100, 0x0110, 0x0120, 0x0130, 0x0140, 0x0150, 0x8001, 0x8030, 0x0000, 0xffff];

/** DIMSE command sets (PS3.7 Annex E): plausible commands with some values wrong, or anything. */
export const commandSet: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .record({
      field: fc.constantFrom(...COMMAND_FIELDS),
      sop: fc.oneof(fc.constantFrom(VERIFICATION, CT, STUDY_FIND, STUDY_GET, STUDY_MOVE), uidish),
      instance: fc.option(uidish, { nil: undefined }),
      messageId: fc.oneof(fc.nat(0xffff), fc.constant(1)),
      dataSetType: fc.constantFrom(0x0101, 0x0000, 0x0001, 0xfefe),
      moveDestination: fc.option(aeish.map((a) => (typeof a === 'string' ? a : latin1(a))), { nil: undefined }),
      extra: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...KNOWN_ELEMENTS), fc.nat(0xffff)), fc.oneof(fc.nat(0xffff), bytesOf(12))), { maxLength: 3 }),
    })
    .map((c) => {
      const m = new Map<number, Uint8Array | string | number>([
        [0x0002, c.sop],
        [0x0100, c.field],
        [0x0110, c.messageId],
        [0x0120, c.messageId],
        [0x0700, 0],
        [0x0800, c.dataSetType],
      ]);
      if (c.instance !== undefined) m.set(0x1000, c.instance);
      if (c.moveDestination !== undefined) m.set(0x0600, c.moveDestination);
      for (const [e, v] of c.extra) m.set(e, v);
      return rawCommandSet([...m]);
    }),
  bytesOf(80),
);

const VRS_VALUES: readonly (readonly [number, string])[] = [
  [0x00080052, 'CS'],
  [0x00100010, 'PN'],
  [0x00100020, 'LO'],
  [0x00080016, 'UI'],
  [0x00080018, 'UI'],
  [0x0020000d, 'UI'],
  [0x00080020, 'DA'],
  [0x00280010, 'US'],
  [0x7fe00010, 'OW'],
];

/** One element of an implicit VR LE data set, its length right, wrong or undefined. */
const element = fc.letrec<{ el: Uint8Array; item: Uint8Array }>((tie) => ({
  el: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(fc.oneof(fc.constantFrom(...VRS_VALUES.map((v) => v[0])), fc.nat(0xffffffff)), fc.oneof(uidish.map((s) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff)), bytesOf(24)), fc.constantFrom('right', 'short', 'long', 'odd'))
      .map(([tag, value, lengthKind]) => {
        const len = lengthKind === 'right' ? value.length : lengthKind === 'short' ? Math.max(0, value.length - 2) : lengthKind === 'long' ? value.length + 100 : value.length | 1;
        return Uint8Array.from([tag >>> 16 & 0xff, tag >>> 24, tag & 0xff, (tag >>> 8) & 0xff, ...le32(len), ...value]);
      }),
    // A sequence: defined or undefined length, items, delimiters (PS3.5 7.5).
    fc.tuple(fc.array(tie('item') as fc.Arbitrary<Uint8Array>, { maxLength: 2 }), fc.boolean()).map(([items, undefinedLength]) => {
      const body = items.flatMap((i) => [...i]);
      return Uint8Array.from([0x08, 0x00, 0x15, 0x11, ...le32(undefinedLength ? 0xffffffff : body.length), ...body, ...(undefinedLength ? [0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0] : [])]);
    }),
  ),
  item: fc.tuple(fc.array(tie('el') as fc.Arbitrary<Uint8Array>, { maxLength: 2 }), fc.boolean()).map(([els, undefinedLength]) => {
    const body = els.flatMap((e) => [...e]);
    return Uint8Array.from([0xfe, 0xff, 0x00, 0xe0, ...le32(undefinedLength ? 0xffffffff : body.length), ...body, ...(undefinedLength ? [0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0] : [])]);
  }),
}));

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/** Data sets and identifiers: element sequences as above, or random bytes. */
export const datasetBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.array(element.el, { maxLength: 6 }).map((els) => Uint8Array.from(els.flatMap((e) => [...e]))),
  bytesOf(120),
);

/** A byte-level mutation of one PDU (as in the decoder fuzz): overwrite, truncate, insert, length repaired or not. */
export const byteMutation = fc.record({
  writes: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 6 }),
  truncateTo: fc.option(fc.nat(), { nil: undefined }),
  insertAt: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })), { nil: undefined }),
  repairLength: fc.boolean(),
});
export type ByteMutation = typeof byteMutation extends fc.Arbitrary<infer T> ? T : never;

export function mutateBytes(src: Uint8Array, m: ByteMutation): Uint8Array {
  let b = Uint8Array.from(src);
  if (m.insertAt !== undefined && b.length > 0) {
    const at = m.insertAt[0] % b.length;
    b = Uint8Array.from([...b.subarray(0, at), ...m.insertAt[1], ...b.subarray(at)]);
  }
  for (const [i, v] of m.writes) if (b.length > 0) b[i % b.length] = v;
  if (m.truncateTo !== undefined && b.length > 0) b = b.subarray(0, m.truncateTo % b.length);
  if (m.repairLength && b.length >= 6) new DataView(b.buffer, b.byteOffset).setUint32(2, b.length - 6);
  return b;
}

/** Split `data` into PDVs of the given sizes (the rest in the last), in separate P-DATA-TFs or one. */
function fragments(pcId: number, isCommand: boolean, data: Uint8Array, cuts: readonly number[], lastBits: readonly boolean[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  const sizes = cuts.filter((c) => c > 0);
  for (let i = 0; i <= sizes.length; i++) {
    const end = i < sizes.length ? Math.min(data.length, at + sizes[i]!) : data.length;
    const isLast = i === sizes.length ? true : (lastBits[i] ?? false);
    out.push(rawPData(pcId, isCommand, isLast, data.subarray(at, end)));
    at = end;
    if (at >= data.length) break;
  }
  return out;
}

/** What to do to a seed conversation. */
export type Attack =
  | { readonly kind: 'rq'; readonly rq: Uint8Array }
  | { readonly kind: 'bytes'; readonly at: number; readonly m: ByteMutation }
  | { readonly kind: 'command'; readonly sop: string; readonly cmd: Uint8Array; readonly data: Uint8Array | undefined; readonly cuts: number[]; readonly lastBits: boolean[] }
  | { readonly kind: 'none' };

export const attack: fc.Arbitrary<Attack> = fc.oneof(
  { weight: 2, arbitrary: rawRq.map((rq) => ({ kind: 'rq' as const, rq })) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), m: byteMutation }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      sop: fc.constantFrom(...SEED_SYNTAXES),
      cmd: commandSet,
      data: fc.option(datasetBytes, { nil: undefined }),
      cuts: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }),
      lastBits: fc.array(fc.boolean(), { maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
);

/** Apply an attack to a seed: the conversation to send. */
export function applyAttack(seed: Conversation, a: Attack): Conversation {
  switch (a.kind) {
    case 'none':
      return seed;
    case 'rq':
      return { rq: a.rq, then: seed.then };
    case 'bytes': {
      const all = [seed.rq, ...seed.then];
      const i = a.at % all.length;
      all[i] = mutateBytes(all[i]!, a.m);
      return { rq: all[0]!, then: all.slice(1) };
    }
    case 'command': {
      const pc = pcOf(a.sop);
      const msg = [...fragments(pc, true, a.cmd, a.cuts, a.lastBits), ...(a.data === undefined ? [] : fragments(pc, false, a.data, [], []))];
      // The attack message goes before the release, after whatever the seed did.
      return { rq: seed.rq, then: [...seed.then.slice(0, -1), ...msg, A_RELEASE_RQ] };
    }
  }
}
