/**
 * DCMTK's spellings (echoscu, storescu, findscu, movescu, getscu and dcmtls) rewritten into ours
 * before parsing, so an existing DCMTK command line runs unchanged: `-aet`/`-aec`/`-aem`,
 * `-P/-S/-W`, `-q/-v/-d`, `-to/-ta/-td`, `+tls KEY CERT`, `+cf`, `-ic`, `+px/+py/+pz/+pa/+pn` …
 * and the peer as two arguments (`host port`). Multi-letter single-dash options must be rewritten
 * first: node's parseArgs would read `-aet` as the flags -a -e -t. Spellings with no clean
 * equivalent are refused with a sentence naming ours, never silently dropped.
 */
import { usageError } from './errors.js';

/** One DCMTK spelling → our tokens; `arity` values are taken from the command line after it. */
interface Rule { readonly arity: number; readonly to: (values: readonly string[]) => readonly string[] }

const flag = (...to: string[]): Rule => ({ arity: 0, to: () => to });
const valued = (option: string): Rule => ({ arity: 1, to: ([v]) => [option, v!] });
const refuse = (why: string): Rule => ({ arity: 0, to: () => { throw usageError(why); } });

const RULES: Readonly<Record<string, Rule>> = {
  // Addressing (PS3.8 AE titles).
  '-aet': valued('--aet'), '--aetitle': valued('--aet'),
  '-aec': valued('--call'),
  '-aem': valued('--dest'), '--move': valued('--dest'),
  // Timeouts: DCMTK has four; ours is one bound for connect, association and responses.
  '-to': valued('--timeout'), '-ta': valued('--timeout'), '--acse-timeout': valued('--timeout'),
  '-td': valued('--timeout'), '--dimse-timeout': valued('--timeout'), '-ts': valued('--timeout'), '--socket-timeout': valued('--timeout'),
  // Logging.
  '-q': flag('--quiet'),
  '-d': flag('--debug'),
  '-ll': { arity: 1, to: ([l]) => logLevel(l!) }, '--log-level': { arity: 1, to: ([l]) => logLevel(l!) },
  // Query information models.
  '-P': flag('--root', 'patient'), '--patient': flag('--root', 'patient'),
  '-S': flag('--root', 'study'), '--study': flag('--root', 'study'),
  '-W': flag('--root', 'worklist'), '--worklist': flag('--root', 'worklist'),
  '-O': refuse('-O (Patient/Study Only) is retired (PS3.4 C.6.3); use -P (Patient Root) or -S (Study Root)'),
  '--psonly': refuse('--psonly (Patient/Study Only) is retired (PS3.4 C.6.3); use -P (Patient Root) or -S (Study Root)'),
  // movescu receiving the instances itself: ours only asks; the destination is a node the peer knows.
  '+P': refuse('+P (movescu receiving on its own port) is not offered: dicom-tls move asks the peer to send to --dest AE; run dicom-tls serve as that destination, or retrieve with dicom-tls get'),
  // Output folder of getscu/movescu.
  '-od': valued('--out'), '--output-directory': valued('--out'),
  // storescu: folders are always scanned recursively here.
  '+sd': flag(), '--scan-directories': flag(), '+r': flag(), '--recurse': flag(),
  // dcmtls: TLS on/off and our identity.
  '-tls': flag('--no-tls'), '--disable-tls': flag('--no-tls'),
  '+tls': { arity: 2, to: ([key, cert]) => ['--key', key!, '--cert', cert!] },
  '--enable-tls': { arity: 2, to: ([key, cert]) => ['--key', key!, '--cert', cert!] },
  '+tla': flag(), '--anonymous-tls': flag(),
  '+ps': flag('--ask-password'), '--std-passwd': flag('--ask-password'),
  '+pw': refuse('+pw would put the password on the command line (visible to every user in ps): use --password-file FILE, --password-env NAME or +ps (ask)'),
  '--use-passwd': refuse('--use-passwd would put the password on the command line (visible to every user in ps): use --password-file FILE, --password-env NAME or +ps (ask)'),
  '-pw': flag(), '--null-passwd': flag(),
  // Key and certificate files: PEM or DER is recognised from the content.
  '-pem': flag(), '--pem-keys': flag(), '-der': flag(), '--der-keys': flag(),
  // Trust.
  '+cf': valued('--ca'), '--add-cert-file': valued('--ca'),
  '+cd': valued('--ca'), '--add-cert-dir': valued('--ca'),
  '+crl': valued('--crl'), '--add-crl-file': valued('--crl'),
  '+crv': flag('--crl-check', 'leaf'), '--enable-crl-vfy': flag('--crl-check', 'leaf'),
  '+cra': flag('--crl-check', 'all'), '--enable-crl-all': flag('--crl-check', 'all'),
  '-rc': flag('--peer-cert', 'require'), '--require-peer-cert': flag('--peer-cert', 'require'),
  '-vc': flag('--peer-cert', 'verify'), '--verify-peer-cert': flag('--peer-cert', 'verify'),
  '-ic': flag('--peer-cert', 'ignore'), '--ignore-peer-cert': flag('--peer-cert', 'ignore'),
  // PS3.15 Annex B profiles, DCMTK 3.6.7 names.
  '+py': flag('--profile', 'bcp195-nd'), '--profile-bcp195-nd': flag('--profile', 'bcp195-nd'),
  '+px': flag('--profile', 'bcp195'), '--profile-bcp195': flag('--profile', 'bcp195'),
  '+pz': flag('--profile', 'bcp195-extended'), '--profile-bcp195-ex': flag('--profile', 'bcp195-extended'),
  '+pa': flag('--profile', 'legacy-aes'), '--profile-aes': flag('--profile', 'legacy-aes'),
  '+pn': flag('--profile', 'legacy-null'), '--profile-null': flag('--profile', 'legacy-null'),
  '+cs': refuse('+cs (one cipher suite) is not offered: the --profile fixes the cipher suites (PS3.15 Annex B)'),
  '--cipher': refuse('--cipher is not offered: the --profile fixes the cipher suites (PS3.15 Annex B)'),
};

const QUERY_COMMANDS = new Set(['find', 'move', 'get']);

/** `PatientName`, `(0010,0010)`, `0010,0010=X`, `Seq[0].Keyword`: never a key file's name. */
export function looksLikeQueryKey(text: string): boolean {
  return text.includes('=') || /^\(?[0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)?/.test(text) || /^[A-Z][A-Za-z0-9]*(\[\d+\](\..+)?)?$/.test(text);
}

function logLevel(level: string): readonly string[] {
  const l = level.toLowerCase();
  if (l === 'trace' || l === 'debug') return ['--debug'];
  if (l === 'info') return ['--verbose'];
  if (['warn', 'error', 'fatal', 'off'].includes(l)) return l === 'warn' ? [] : ['--quiet'];
  throw usageError(`--log-level must be one of trace, debug, info, warn, error, fatal, off; got "${level}"`);
}

/**
 * `argv` with DCMTK spellings replaced by ours; everything else unchanged and in order. After
 * `--` nothing is touched.
 */
export function fromDcmtk(argv: readonly string[], command?: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') { out.push(...argv.slice(i)); break; }
    // findscu's long --key is a query key; ours is the private key. A value that reads as a query
    // key (Keyword, gggg,eeee, a sequence path, or anything with "=") is one, for the query commands.
    if (token === '--key' && QUERY_COMMANDS.has(command ?? '') && argv[i + 1] !== undefined && looksLikeQueryKey(argv[i + 1]!)) {
      out.push('--query', argv[++i]!);
      continue;
    }
    // serve's own log has levels (serve-log.ts, DCMTK's names included): its --log-level/-ll is kept.
    if (command === 'serve' && (token === '--log-level' || token === '-ll')) { out.push('--log-level'); continue; }
    const rule = RULES[token];
    if (rule === undefined) { out.push(token); continue; }
    const values = argv.slice(i + 1, i + 1 + rule.arity);
    if (values.length < rule.arity) throw usageError(`${token} needs ${rule.arity === 1 ? 'a value' : `${rule.arity} values`} (see --help)`);
    out.push(...rule.to(values));
    i += rule.arity;
  }
  return out;
}

/**
 * DCMTK names the peer as two arguments, `host port`; ours is `host:port`. When the first
 * positional has no port and the second is a port number, they are one peer.
 */
export function joinPeer(positionals: readonly string[]): string[] {
  const [host, port, ...rest] = positionals;
  if (host === undefined || port === undefined || !/^\d{1,5}$/.test(port)) return [...positionals];
  if (/^\[.*\]:\d+$/.test(host) || /^[^:]+:\d+$/.test(host)) return [...positionals];
  return [host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, ...rest];
}

/** `dicom-tls help dcmtk`: the DCMTK spellings and what they mean here. */
export const dcmtkHelp = `DCMTK spellings (echoscu, storescu, findscu, movescu, getscu; dcmtls options)

A DCMTK command line runs with "dicom-tls <command>" in front of its arguments instead of the
DCMTK tool's name, e.g.
  echoscu +tls dicom-tls-data/pki/client-key.pem dicom-tls-data/pki/client.pem \\
      +cf dicom-tls-data/pki/ca.pem -aec DICOM-TLS localhost 2762
  dicom-tls echo +tls dicom-tls-data/pki/client-key.pem dicom-tls-data/pki/client.pem \\
      +cf dicom-tls-data/pki/ca.pem -aec DICOM-TLS localhost 2762

  HOST PORT                    HOST:PORT
  -aet, --aetitle AE           --aet AE
  -aec, --call AE              --call AE
  -aem, --move AE              --dest AE (move)
  -to, -ta, -td, -ts SECONDS   --timeout SECONDS (one bound for all)
  -q, -v, -d, -ll LEVEL        --quiet, --verbose, --debug
  -k, --key (gggg,eeee)=V, Keyword=V, Seq[0].Keyword=V
                               the same (-k, --query); find/move/get read --key as a
                               query key when its value reads as one, else as --key FILE
  -P, -S, -W                   --root patient | study | worklist
  -od, --output-directory DIR  --out DIR (get)
  +sd, +r                      accepted; folders are always read recursively
  +tls, --enable-tls KEY CERT  --key KEY --cert CERT
  -tls, --disable-tls          --no-tls
  +tla, -pem, -der, -pw        accepted (PEM or DER is recognised from the file)
  +ps, --std-passwd            --ask-password
  +cf FILE, +cd DIR            --ca FILE|DIR
  +crl FILE, +crv, +cra        --crl FILE, --crl-check leaf | all
  -rc, -vc, -ic                --peer-cert require | verify | ignore
  +py, +px, +pz, +pa, +pn      --profile bcp195-nd | bcp195 | bcp195-extended | legacy-aes | legacy-null
  +pw PASSWORD, +cs CIPHER, -O, +P PORT
                               refused with the option to use instead

One difference: TLS is the default here (DCMTK's is plain DICOM): a DCMTK command line
without +tls needs -tls (or --no-tls) to talk plain DICOM.`;
