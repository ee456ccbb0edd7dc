/**
 * A User Information item (PS3.8 9.3.2.3) with every field present, absent ones `undefined` / [],
 * the shape decodePdu returns, so tests can deepEqual against it. Give only what the test is about.
 */
import type { UserInformationItem } from '../../src/ul/pdu/types.js';

export function userInformation(fields: Partial<UserInformationItem> = {}): UserInformationItem {
  return {
    maximumLength: undefined,
    implementationClassUid: undefined,
    implementationVersionName: undefined,
    asynchronousOperationsWindow: undefined,
    roleSelections: [],
    sopClassExtendedNegotiations: [],
    sopClassCommonExtendedNegotiations: [],
    userIdentityRq: undefined,
    userIdentityAc: undefined,
    unknownSubItems: [],
    ...fields,
  };
}
