/**
 * PDUs captured from DCMTK 3.6.7 on 127.0.0.1 (a node net.Server / proxy logging the bytes),
 * decoded by hand field by field against PS3.8 Tables 9-11 … 9-26. Independent of our encoder.
 *
 *   echoscu -aet A -aec B 127.0.0.1 PORT       (through a proxy to `storescp -aet B`)
 *   storescu -R -aet A -aec B --user u --password p --pos-response 127.0.0.1 PORT sc.dcm
 *   storescu -R -aet A -aec B --jwt jwt.txt 127.0.0.1 PORT sc.dcm
 */
import { hexBytes } from '../../helpers/hex.js';

const FIXED_PART_B_A = `
  0001 0000                               # Protocol-version 1, reserved
  "B               "                      # Called-AE-title, space padded to 16
  "A               "                      # Calling-AE-title
  0000000000000000 0000000000000000       # reserved, 32 bytes
  0000000000000000 0000000000000000
  10 00 0015 "1.2.840.10008.3.1.1.1"      # Application Context item, length 21, not padded
`;

const DCMTK_USER_INFO_HEAD = `
  51 00 0004 00004000                     # Maximum Length sub-item: 16384
  52 00 001b "1.2.276.0.7230010.3.0.3.6.7" # Implementation Class UID sub-item, length 27
  55 00 000f "OFFIS_DCMTK_367"            # Implementation Version Name sub-item, length 15
`;

/** echoscu's A-ASSOCIATE-RQ. */
export const ECHOSCU_RQ = hexBytes(`
  01 00 000000cd                          # A-ASSOCIATE-RQ, reserved, PDU-length 205
  ${FIXED_PART_B_A}
  20 00 002e                              # Presentation Context item (RQ), length 46
    01 00 ff 00                           # ID 1, reserved, reserved (DCMTK sends 0xff here!), reserved
    30 00 0011 "1.2.840.10008.1.1"        # Abstract Syntax: Verification SOP Class
    40 00 0011 "1.2.840.10008.1.2"        # Transfer Syntax: Implicit VR Little Endian
  50 00 003a                              # User Information item, length 58
  ${DCMTK_USER_INFO_HEAD}
`);

/** storescp's A-ASSOCIATE-AC answering ECHOSCU_RQ. */
export const STORESCP_AC = hexBytes(`
  02 00 000000b8                          # A-ASSOCIATE-AC, reserved, PDU-length 184
  ${FIXED_PART_B_A}
  21 00 0019                              # Presentation Context item (AC), length 25
    01 00 00 00                           # ID 1, reserved, Result 0 = acceptance, reserved
    40 00 0011 "1.2.840.10008.1.2"        # Transfer Syntax: Implicit VR Little Endian
  50 00 003a                              # User Information item, length 58
  ${DCMTK_USER_INFO_HEAD}
`);

/** echoscu's C-ECHO-RQ in one P-DATA-TF. */
export const ECHOSCU_PDATA = hexBytes(`
  04 00 0000004a                          # P-DATA-TF, reserved, PDU-length 74
  00000046                                # PDV item length 70 = 2 + 68 bytes of data
  01                                      # Presentation-context-ID 1
  03                                      # Message Control Header: command (bit 0), last (bit 1)
  # 68 bytes of command set (group 0000, implicit VR LE): opaque to the PDU layer
  00000000 04000000 38000000
  00000200 12000000 "1.2.840.10008.1.1" 00
  00000001 02000000 3000
  00001001 02000000 0100
  00000008 02000000 0101
`);

/** storescp's C-ECHO-RSP. */
export const STORESCP_PDATA = hexBytes(`
  04 00 00000054                          # P-DATA-TF, PDU-length 84
  00000050 01 03                          # PDV length 80, context 1, command + last
  00000000 04000000 42000000              # 78 bytes of command set
  00000200 12000000 "1.2.840.10008.1.1" 00
  00000001 02000000 3080
  00002001 02000000 0100
  00000008 02000000 0101
  00000009 02000000 0000
`);

export const ECHOSCU_RELEASE_RQ = hexBytes('05 00 00000004 00000000 # A-RELEASE-RQ, PDU-length 4, 4 reserved');
export const STORESCP_RELEASE_RP = hexBytes('06 00 00000004 00000000 # A-RELEASE-RP, PDU-length 4, 4 reserved');

const STORESCU_CONTEXTS = `
  20 00 0038                              # Presentation Context (RQ), length 56
    01 00 ff 00                           # ID 1
    30 00 0019 "1.2.840.10008.5.1.4.1.1.7" # Secondary Capture Image Storage
    40 00 0013 "1.2.840.10008.1.2.1"      # Explicit VR Little Endian
  20 00 004d                              # Presentation Context (RQ), length 77
    03 00 ff 00                           # ID 3
    30 00 0019 "1.2.840.10008.5.1.4.1.1.7"
    40 00 0013 "1.2.840.10008.1.2.2"      # Explicit VR Big Endian
    40 00 0011 "1.2.840.10008.1.2"        # Implicit VR Little Endian
`;

/** storescu --user u --password p --pos-response: user identity type 2. */
export const STORESCU_USER_PASSWORD_RQ = hexBytes(`
  01 00 00000134                          # A-ASSOCIATE-RQ, PDU-length 308
  ${FIXED_PART_B_A}
  ${STORESCU_CONTEXTS}
  50 00 0046                              # User Information, length 70
  ${DCMTK_USER_INFO_HEAD}
  58 00 0008                              # User Identity Negotiation (RQ), length 8
    02                                    # User-Identity-Type 2: username and passcode
    01                                    # Positive-response-requested
    0001 "u"                              # Primary-field-length 1, primary field
    0001 "p"                              # Secondary-field-length 1, secondary field
`);

/** storescu --jwt jwt.txt: user identity type 5. */
export const STORESCU_JWT_RQ = hexBytes(`
  01 00 0000014a                          # A-ASSOCIATE-RQ, PDU-length 330
  ${FIXED_PART_B_A}
  ${STORESCU_CONTEXTS}
  50 00 005c                              # User Information, length 92
  ${DCMTK_USER_INFO_HEAD}
  58 00 001e                              # User Identity Negotiation (RQ), length 30
    05 00                                 # type 5: JSON Web Token; no positive response requested
    0018 "eyJhbGciOiJub25lIn0.e30."       # Primary field, 24 bytes
    0000                                  # Secondary-field-length 0
`);

/** Exact hex as captured (to check the notation above reproduces the wire bytes). */
export const CAPTURED_HEX = {
  ECHOSCU_RQ:
    '0100000000cd000100004220202020202020202020202020202041202020202020202020202020202020000000000000000000000000000000000000000000000000000000000000000010000015312e322e3834302e31303030382e332e312e312e312000002e0100ff0030000011312e322e3834302e31303030382e312e3140000011312e322e3834302e31303030382e312e325000003a51000004000040005200001b312e322e3237362e302e373233303031302e332e302e332e362e375500000f4f464649535f44434d544b5f333637',
  STORESCP_AC:
    '0200000000b8000100004220202020202020202020202020202041202020202020202020202020202020000000000000000000000000000000000000000000000000000000000000000010000015312e322e3834302e31303030382e332e312e312e31210000190100000040000011312e322e3834302e31303030382e312e325000003a51000004000040005200001b312e322e3237362e302e373233303031302e332e302e332e362e375500000f4f464649535f44434d544b5f333637',
  ECHOSCU_PDATA:
    '04000000004a0000004601030000000004000000380000000000020012000000312e322e3834302e31303030382e312e3100000000010200000030000000100102000000010000000008020000000101',
  STORESCP_PDATA:
    '0400000000540000005001030000000004000000420000000000020012000000312e322e3834302e31303030382e312e310000000001020000003080000020010200000001000000000802000000010100000009020000000000',
  STORESCU_USER_PASSWORD_RQ:
    '010000000134000100004220202020202020202020202020202041202020202020202020202020202020000000000000000000000000000000000000000000000000000000000000000010000015312e322e3834302e31303030382e332e312e312e31200000380100ff0030000019312e322e3834302e31303030382e352e312e342e312e312e3740000013312e322e3834302e31303030382e312e322e312000004d0300ff0030000019312e322e3834302e31303030382e352e312e342e312e312e3740000013312e322e3834302e31303030382e312e322e3240000011312e322e3834302e31303030382e312e325000004651000004000040005200001b312e322e3237362e302e373233303031302e332e302e332e362e375500000f4f464649535f44434d544b5f333637580000080201000175000170',
  STORESCU_JWT_RQ:
    '01000000014a000100004220202020202020202020202020202041202020202020202020202020202020000000000000000000000000000000000000000000000000000000000000000010000015312e322e3834302e31303030382e332e312e312e31200000380100ff0030000019312e322e3834302e31303030382e352e312e342e312e312e3740000013312e322e3834302e31303030382e312e322e312000004d0300ff0030000019312e322e3834302e31303030382e352e312e342e312e312e3740000013312e322e3834302e31303030382e312e322e3240000011312e322e3834302e31303030382e312e325000005c51000004000040005200001b312e322e3237362e302e373233303031302e332e302e332e362e375500000f4f464649535f44434d544b5f3336375800001e0500001865794a68624763694f694a756232356c496e302e6533302e0000',
} as const;
