import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * The library never logs. It publishes on these `node:diagnostics_channel` channels; the CLI
 * (or any application) subscribes and decides what to print. Publishing costs nothing when no
 * one subscribes (`hasSubscribers` is checked first).
 */
export const channelNames = {
  /** TLS handshake information callback events: { connection, where, state, alert? } */
  tlsInfo: 'dicom-tls:tls:info',
  /** Every verify-callback call: { connection, depth, ok, error, errorString, certificateString, result } */
  tlsVerify: 'dicom-tls:tls:verify',
  /** A TLS handshake completed: { connection, protocol, cipher, alpn, resumed } */
  tlsHandshake: 'dicom-tls:tls:handshake',
  /** A TLS handshake failed: { connection, error } (error carries depth, code, certificate) */
  tlsHandshakeFailed: 'dicom-tls:tls:handshake-failed',
  /** A PDU was sent: { association, pdu } */
  pduSent: 'dicom-tls:ul:pdu-sent',
  /** A PDU was received: { association, pdu } */
  pduReceived: 'dicom-tls:ul:pdu-received',
  /** A state-machine transition: { association, from, event, action, to } */
  stateTransition: 'dicom-tls:ul:transition',
  /** Association life cycle: { association, kind: 'requested'|'accepted'|'rejected'|'released'|'aborted'|'listener-error', detail } */
  association: 'dicom-tls:association',
  /** A DIMSE message sent or received: { association, direction, command, presentationContextId } */
  dimse: 'dicom-tls:dimse',
  /** A peer's mistake in a received DIMSE message that was tolerated: { association, command, presentationContextId, warning } */
  dimseWarning: 'dicom-tls:dimse:warning',
  /** Server events: { kind: 'tls-handshake-failed'|'association-rejected'|'stored'|'store-failed'|'store-partials-removed'|'retrieve-started'|'retrieve-done'|'reindex-started'|'reindex-progress'|'reindex-done'|'listener-error', … } */
  server: 'dicom-tls:server',
  /** A request's data set (a C-FIND identifier …) held in memory, handed to its handler: { association, command, presentationContextId, transferSyntaxUid, dataset } */
  requestDataset: 'dicom-tls:dimse:request-dataset',
  /** The audit trail's delivery: { kind: 'connected'|'disconnected'|'connect-failed'|'delivered'|'queue-full'|'queue-error'|'local-security-alert', … } */
  audit: 'dicom-tls:audit',
} as const;

export type ChannelName = (typeof channelNames)[keyof typeof channelNames];

const channels = new Map<string, diagnosticsChannel.Channel>();

export function channel(name: ChannelName): diagnosticsChannel.Channel {
  let c = channels.get(name);
  if (c === undefined) {
    c = diagnosticsChannel.channel(name);
    channels.set(name, c);
  }
  return c;
}

/** Publish `message` on `name` if anyone listens. `message` is built lazily when given as a function. */
export function publish(name: ChannelName, message: object | (() => object)): void {
  const c = channel(name);
  if (!c.hasSubscribers) return;
  c.publish(typeof message === 'function' ? message() : message);
}
