/** The help of `dicom-tls serve` (kept apart so `serve --help` loads no server code). */
export const help = `Usage: dicom-tls serve [options]

The main job: a secure Storage + Query/Retrieve SCP with embedded defaults.
  - On first run it creates a development PKI in DATA/pki (CA, server and client certificates)
    and prints where the CA is: give that CA and the client certificate to the peers.
  - Listens for DICOM over TLS on port 2762 (PS3.15 B.12, mutual authentication); plain DICOM
    only on --plain-port when asked.
  - Stores every instance under DATA/files with an embedded index (SQLite) answering C-FIND,
    C-MOVE and C-GET.
  - Prints how to connect (a dicom-tls echo line and a DCMTK echoscu line), logs each association
    and each failed handshake (peer, failing certificate, reason).
  - SIGINT/SIGTERM stop it cleanly: no new associations, instances in flight are finished.
    SIGHUP reloads the certificates. Running it as a service: docs/operations.md.

Options:
  --port N               DICOM over TLS port (default 2762; 0 = any free port)
  --plain-port N         also listen for plain DICOM on N (off unless given)
  --host ADDRESS         listen address (default 0.0.0.0)
  --data DIR             data directory (default ./dicom-tls-data)
  --config FILE          JSON configuration (every option below, plus AE-title bindings and move
                         destinations); command-line options win over the file
  --aet AE               our AE title (default DICOM-TLS)
  --cert FILE --key FILE | --pkcs12 FILE
                         server identity (default: DATA/pki/server.pem and server-key.pem)
  --password-file FILE | --password-env NAME | --ask-password
                         password of an encrypted key or PKCS#12
  --ca FILE|DIR          CAs trusted for client certificates (repeatable; default DATA/pki/ca.pem)
  --crl FILE, --crl-check leaf|all, --profile NAME
                         revocation and PS3.15 profile, as for the client commands
  --groups LIST, --require-hybrid-group
                         key-exchange groups (default X25519MLKEM768 first, then the classical
                         ones), or accept only a hybrid post-quantum one, as for the client commands
  --peer-cert require|verify|ignore
                         client certificates: required (default), checked when sent, or ignored
  --session-lifetime S   seconds a client may resume its TLS session, counted from the full
                         handshake that verified its certificate (default 7200; 0 = no resumption,
                         the certificate is verified at every association)
  --max-associations N   concurrent associations (default 64)
  --async-window N       requests a peer may keep outstanding when it proposes an Asynchronous
                         Operations Window (PS3.7 D.3.3.3; default 16, 0 = unlimited, 1 = answer
                         every proposal synchronously); they are answered in order
  --users FILE           check user identities (PS3.7 D.3.3.7: user name, or user name and
                         password) against FILE (make it with dicom-tls user add); a wrong
                         password is rejected (A-ASSOCIATE-RJ 1/2/1); at most 2 checks run
                         and 32 wait, an address that failed one gets one at a time, later
                         and later: more are refused 2/3/2 unchecked (docs/limits.md)
  --require-user         reject associations that name no user (needs --users)
  --accept-unknown       store private and unknown SOP classes too (any SOP class that is not
                         Verification, Query/Retrieve or a normalized one); retired storage
                         classes are always accepted, non-patient objects (Hanging Protocol,
                         Color Palette, Implant Templates, Defined Procedure Protocols: no
                         study) never are (config "acceptUnknown": true)
  --audit URL            send the IHE ATNA audit trail (DICOM audit messages, PS3.15 A.5) to
                         syslog+tls://host:6514, syslog+udp://host:514 or file:///path; queued
                         on disk in DATA/audit-queue while the repository is unreachable
  --dev-pki              use (and on first run make) the development PKI in DATA/pki; needed when a
                         --config file names no certificate (without --config it is the default)
  --watch-certs          reload the TLS files when one changes (SIGHUP always reloads them: key,
                         certificate, CAs, CRLs; running associations keep the previous ones)
  --expiry-warning-days N
                         warn N days before a certificate or CRL runs out (default 30)
  --http-port N          serve /healthz, /readyz and /metrics (Prometheus) on N (off unless given)
  --http-host ADDRESS    address of the HTTP port (default 127.0.0.1)
  --stop-timeout S       on SIGTERM/SIGINT, wait up to S seconds for running associations, then
                         abort them (default 30)
  --warm-up N            before the ports open, store N synthetic instances through loopback
                         associations into a scratch store (removed after), so the first peer's
                         instances run compiled code (default 800, about a second; 0 = none)
  --log-level LEVEL, -ll LEVEL
                         trace, debug, info (default), warn, error, fatal or silent (off); each stored
                         instance is a debug line
  --log-format text|json human lines (default) or one JSON object per line on stdout with time,
                         level, msg, event and the event's fields (--json: the same)
  --log-phi              log patient name, ID, birth date, accession number as they are
                         (default: "[redacted]" in fields and messages)
  --duplicates keep-first|overwrite|reject
                         an instance sent again: keep the copy stored and answer Success
                         (default, logged), replace it (Success), or refuse it 0111 (Duplicate
                         SOP Instance; DCMTK's storescu stops at the first such answer)
  --index URL            the index in PostgreSQL, shared by several serve nodes:
                         postgres://user@host:port/database (what the URL leaves out, password
                         included, from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE); default:
                         the embedded SQLite index in DATA/index.sqlite (docs/scale-out.md)
  --storage URL          where instances are kept: s3://BUCKET/PREFIX (S3, MinIO, Ceph RGW;
                         credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS
                         SDK's default chain; endpoint, region, forcePathStyle in the config's
                         "storage"), file:///DIR or a directory (default DATA/files)
  --verbose, -v          more detail in the log

Config file (JSON with comments; editors check it against schema/serve-config.schema.json, every
field and its DICOM_TLS_* environment variable are in docs/serve-config.md), e.g.:
  { "aet": "PACS", "port": 2762, "plainPort": 11112, "data": "/srv/dicom",
    "tls": { "cert": "server.pem", "key": "server-key.pem", "ca": ["ca.pem"], "peerCert": "require",
             "profile": "bcp195-rfc8996", "groups": ["X25519MLKEM768", "X25519"], "sessionLifetime": 3600 },
    "bindings": [ { "aet": "CT1", "subject": "CN = ct1.example.org" },
                  { "aet": "MR1", "fingerprint": "AB:CD:…" },
                  { "aet": "US1", "issuer": "CN = Hospital CA", "serial": "3d:bf:…" } ],
    "requireBinding": false, "store": { "duplicates": "keep-first" },
    "index": { "url": "postgres://dicom@db.example.org/pacs", "maxConnections": 10 },
    "storage": { "url": "s3://dicom/site-a", "endpoint": "http://10.0.0.9:9000", "forcePathStyle": true },
    "moveDestinations": { "WS1": { "host": "10.0.0.7", "port": 2762, "tls": true } },
    "access": [ { "aet": "CT1", "permissions": ["echo", "store"] },
                { "aet": "WS1", "fingerprint": "AB:CD:…", "permissions": ["echo", "query", "retrieve"] },
                { "aet": "*", "user": "alice", "permissions": ["echo", "query"] } ],
    "users": { "file": "users", "require": false },
    "limits": { "maxQueryMatches": 50000, "maxConcurrentQueries": 4, "moveTimeout": 20000,
                "maxBufferedBytes": 268435456, "maxBufferedBytesPerAssociation": 67108864,
                "datasetStallTimeout": 30000, "maxIdentifierLength": 65536,
                "handshakeTimeout": 30000, "artimTimeout": 30000,
                "negotiationTimeout": 30000 },
    "audit": { "url": "syslog+tls://arr.example.org:6514", "auditSourceId": "PACS",
               "queue": "audit-queue", "maxQueued": 10000,
               "tls": { "cert": "audit.pem", "key": "audit-key.pem", "ca": ["arr-ca.pem"] } } }
  Relative paths in the file are relative to the file. A bound AE title is accepted only from a
  peer whose TLS certificate matches (subject as \`dicom-tls pki inspect\` prints it, SHA-256
  fingerprint, or issuer + serial); requireBinding: true rejects every unbound calling AE title.
  tls may also hold "passwordFile" or "passwordEnv" for an encrypted key.
  access: who may echo, store, query and retrieve. The first rule whose "aet" ("*": any) and
  certificate ("fingerprint", "subject", "issuer"+"serial", or "certificate": "any" for any
  verified one) and "user" match decides; then the defaults: a verified client certificate may
  do everything, any other peer (plain port, or TLS without a certificate) only echo and store.
  Refused services are refused presentation contexts; "permissions": [] refuses the association
  (calling AE title not recognised).
  limits (each optional, the defaults shown): what a peer sees at each is in docs/limits.md.
  audit: what is recorded and the delivery guarantees are in docs/audit.md; without "tls" the
  audit channel uses the server's own certificate, key and CA.

Examples:
  dicom-tls serve
  dicom-tls serve --data /srv/dicom --aet PACS --plain-port 11112
  dicom-tls serve --config /etc/dicom-tls.json`;
