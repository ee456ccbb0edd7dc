/**
 * The shape of `new DicomServer(options)`, checked before anything else (as
 * client-options.ts checks `DicomClient.associate`'s): an unknown key (a typo such as
 * `maxAssocations`) or a value of the wrong type is an InvalidOptionError naming the option, not
 * an option silently ignored or a TypeError at the first association. The values themselves are
 * checked where they are used (AE titles, limits, the window, the Maximum Length floor).
 */
import { checkMaximumLength } from '../acse/options.js';
import { HandlerRegistry } from '../services/scp/registry.js';
import { InvalidOptionError } from '../errors.js';
import { any, arrayOf, boolean, checkFields, describe, either, fields, func, integer, isPlainObject, milliseconds, object, required, string, type Check } from '../internal/option-shape.js';

const isString = (v: unknown): boolean => typeof v === 'string';
const isFunction = (v: unknown): boolean => typeof v === 'function';
const strings = (what: string): Check => arrayOf(string, what);

const supportedSyntax = fields({
  abstractSyntax: required(string),
  transferSyntaxes: strings('a list of transfer syntax UIDs'),
  roles: fields({ scu: boolean, scp: boolean }),
});

export const SERVER_TIMEOUTS_SHAPE: Readonly<Record<string, Check>> = {
  artim: milliseconds,
  handshake: milliseconds,
  negotiation: milliseconds,
  idle: milliseconds,
  dimse: milliseconds,
  datasetStall: milliseconds,
};

/** Every key of DicomServerOptions and what it must be. */
export const SERVER_OPTIONS_SHAPE: Readonly<Record<string, Check>> = {
  aeTitle: either('an AE title, a list of them or a function', [isString, string], [Array.isArray, strings('a list of AE titles')], [isFunction, func]),
  callingAeTitles: either('a list of AE titles or a function', [Array.isArray, strings('a list of AE titles')], [isFunction, func]),
  certificateBindings: arrayOf(object, 'a list of certificate bindings'),
  requireCertificateBinding: boolean,
  presentationContexts: fields({
    supported: arrayOf(supportedSyntax, 'a list of { abstractSyntax, transferSyntaxes?, roles? }'),
    acceptAbstractSyntax: func,
    defaultTransferSyntaxes: strings('a list of transfer syntax UIDs'),
    acceptContext: func,
  }),
  userIdentity: func,
  requireUserIdentity: boolean,
  authorize: func,
  sopClassExtended: func,
  sopClassCommonExtended: func,
  rejectWhenNoContextAccepted: boolean,
  // Checked with their own messages by the constructor.
  minPeerMaximumLength: any,
  asynchronousOperations: any,
  tls: any,
  implementationClassUid: string,
  implementationVersionName: string,
  verification: boolean,
  maxAssociations: integer(1),
  maxPendingConnections: integer(1),
  maxPendingBytes: integer(0),
  maxPduLength: (option, v) => void checkMaximumLength(option, v as number),
  timeouts: fields(SERVER_TIMEOUTS_SHAPE),
  maxBufferedBytes: integer(0),
  maxBufferedBytesPerAssociation: integer(0),
  handlers: (option, v) => {
    if (!(v instanceof HandlerRegistry)) throw new InvalidOptionError(option, `must be a HandlerRegistry, got ${describe(v)}`);
  },
};

/** Throws InvalidOptionError for the first key of `options` unknown or of the wrong shape. */
export function checkServerOptions(options: unknown): void {
  checkFields('', options, SERVER_OPTIONS_SHAPE);
}
