/**
 * Key-exchange groups (TLS 1.3 `supported_groups` / `key_share`, ECDHE curves in TLS 1.2).
 *
 * Traffic recorded today can be decrypted once a quantum computer exists; patient data must stay
 * confidential longer than that. OpenSSL 3.5 (Node 22, 24, 26) offers hybrid groups that combine
 * a classical exchange with ML-KEM, secure if either half holds. Where the linked OpenSSL has
 * them, contexts offer X25519MLKEM768 first and the classical groups after it, so older peers
 * (OpenSSL 3.0, DCMTK built on it) still connect with X25519 and no extra round trip.
 * What the linked OpenSSL knows is probed, never inferred from its version number.
 */
import { InvalidOptionError } from '../../errors.js';
import { drainErrors, opensslVersion } from './openssl/lib.js';
import * as S from './openssl/ssl.js';
import { TlsConfigurationError } from './errors.js';

/** Hybrid (classical + ML-KEM) groups, preferred first, by OpenSSL's names (RFC draft ecdhe-mlkem). */
export const HYBRID_GROUPS = ['X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024'] as const;

/**
 * OpenSSL 3.0's own default list, the classical part of ours: a peer without hybrid groups sees
 * what it always saw.
 */
const CLASSIC_GROUPS = ['X25519', 'secp256r1', 'X448', 'secp521r1', 'secp384r1', 'ffdhe2048', 'ffdhe3072', 'ffdhe4096', 'ffdhe6144', 'ffdhe8192'];

const known = new Map<string, boolean>();

/** Whether the linked OpenSSL accepts `group` (probed once on a scratch SSL_CTX, then cached). */
export function groupAvailable(group: string): boolean {
  let ok = known.get(group);
  if (ok === undefined) {
    const ctx = S.SSL_CTX_new(S.TLS_client_method());
    try {
      ok = S.SSL_CTX_set1_groups_list(ctx, group) === 1;
    } finally {
      S.SSL_CTX_free(ctx);
      drainErrors();
    }
    known.set(group, ok);
  }
  return ok;
}

/** The hybrid groups this OpenSSL offers, preferred first (empty before OpenSSL 3.5). */
export function availableHybridGroups(): string[] {
  return HYBRID_GROUPS.filter(groupAvailable);
}

/** True for a hybrid group name (any spelling OpenSSL accepts, e.g. `x25519mlkem768`). */
export function isHybridGroup(name: string): boolean {
  const n = name.replace(/^[?*]+/, '').toLowerCase();
  return HYBRID_GROUPS.some((g) => g.toLowerCase() === n);
}

/**
 * The classical groups a client sends a key share for besides the hybrid: X25519, which a peer on
 * OpenSSL's defaults picks, and secp256r1, the one DCMTK offers first: its TLS profiles (BCP 195)
 * accept only the NIST curves P-256, P-384 and P-521, and without a P-256 share every handshake
 * with a DCMTK peer took a HelloRetryRequest, one more round trip and a second ClientHello.
 */
const KEY_SHARE_GROUPS = new Set(['X25519', 'secp256r1']);

/**
 * The list a context sets when the caller gives none: X25519MLKEM768 first, then OpenSSL 3.0's
 * classical list. `*` marks the groups the client sends a key share for (OpenSSL 3.5 syntax):
 * X25519MLKEM768, X25519 and secp256r1, so a peer without the hybrid (OpenSSL's defaults, DCMTK)
 * answers with X25519 or P-256 at once instead of a HelloRetryRequest. Undefined (OpenSSL's own
 * default) where there is no hybrid.
 */
export function defaultGroups(): string | undefined {
  if (!groupAvailable('X25519MLKEM768')) return undefined;
  return ['*X25519MLKEM768', ...CLASSIC_GROUPS.map((g) => (KEY_SHARE_GROUPS.has(g) ? `*${g}` : g))].join(':');
}

/** The list that requires a hybrid group: every hybrid group this OpenSSL has, with a key share for the first. */
export function hybridOnlyGroups(): string | undefined {
  const hybrid = availableHybridGroups();
  return hybrid.length === 0 ? undefined : hybrid.join(':');
}

/**
 * The groups a client offers when it resumes a TLS 1.3 session whose handshake agreed on
 * `group`: the context's list unchanged, with key shares only for that group and for the list's
 * first key-share group (OpenSSL 3.5's `*` syntax; one share when they are the same). A resumed
 * handshake still runs an (EC)DHE exchange (psk_dhe_ke) and the client generates a key pair for
 * every share it sends, which the server, having answered this group before, then ignores;
 * X25519MLKEM768, X25519 and P-256 were three key generations where one is used. The first
 * share stays because a server whose list has no tuples (ours, OpenSSL before 3.5) takes a share
 * it is sent without asking for the group it prefers: offered X25519 alone, a server that has
 * gained X25519MLKEM768 since the session (restarted, upgraded, another node behind the same
 * name) would answer X25519, and every later session with it would stay there. The supported
 * groups and their order stay as they were, so a server that now wants another group still gets
 * it (through a HelloRetryRequest). Undefined, meaning "leave the context's list", where there is
 * nothing to spare or the list is not one this can rewrite safely: OpenSSL's own default (one
 * share), a list with at most one share, with tuples (`/`), or without the group.
 */
export function resumptionGroups(list: string | undefined, group: string): string | undefined {
  if (list === undefined || list.includes('/')) return undefined;
  const tokens = list.split(':');
  const prefix = /^[?*-]*/;
  let shares = 0;
  let at = -1;
  let first = -1;
  const wanted = group.toLowerCase();
  for (let i = 0; i < tokens.length; i++) {
    const p = prefix.exec(tokens[i]!)![0];
    if (p.includes('*')) {
      shares++;
      if (first < 0) first = i;
    }
    if (!p.includes('-') && tokens[i]!.slice(p.length).toLowerCase() === wanted) at = i;
  }
  if (shares < 2 || at < 0) return undefined;
  return tokens.map((t, i) => {
    const p = prefix.exec(t)![0];
    const bare = p.replaceAll('*', '');
    return (i === at || i === first ? `${bare}*` : bare) + t.slice(p.length);
  }).join(':');
}

/**
 * Set the context's groups: the caller's list, the hybrid-only list (requireHybridGroup), or the
 * default. Returns what was set (undefined: OpenSSL's own default). Typed errors name the option.
 */
export function configureGroups(ctx: unknown, groups: string | readonly string[] | undefined, requireHybrid: boolean, maxP: string): string | undefined {
  let list: string | undefined;
  if (groups !== undefined) {
    const given: unknown = groups;
    const names = typeof given === 'string' ? given.split(':') : Array.isArray(given) ? given as unknown[] : undefined;
    if (names === undefined || names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) {
      throw new InvalidOptionError('groups', 'must be a colon-separated list or an array of group names, e.g. "X25519MLKEM768:X25519"');
    }
    list = names.join(':');
    if (requireHybrid) {
      const classic = (names as string[]).filter((n) => !isHybridGroup(n));
      if (classic.length > 0) throw new InvalidOptionError('groups', `requireHybridGroup accepts only hybrid groups; ${classic.join(', ')} ${classic.length === 1 ? 'is' : 'are'} not`);
    }
  } else if (requireHybrid) {
    list = hybridOnlyGroups();
    if (list === undefined) {
      throw new TlsConfigurationError('requireHybridGroup', `${opensslVersion()} has no hybrid post-quantum group (X25519MLKEM768 needs OpenSSL 3.5 or later)`);
    }
  } else {
    list = defaultGroups();
  }
  if (requireHybrid && maxP !== 'TLSv1.3') {
    throw new InvalidOptionError('requireHybridGroup', `hybrid groups need TLS 1.3, but maxProtocol is ${maxP}`);
  }
  if (list !== undefined && S.SSL_CTX_set1_groups_list(ctx, list) !== 1) {
    throw new TlsConfigurationError('groups', `OpenSSL ${opensslVersion()} does not know every group in "${list}"`, { openssl: drainErrors() });
  }
  return list;
}
