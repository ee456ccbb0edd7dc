/**
 * Planning a store over several associations when one cannot carry every presentation context
 * the sources need (128 at most, PS3.8 9.3.2.2).
 */
import { MAX_PRESENTATION_CONTEXTS, type RequestedContext } from '../../acse/presentation-context.js';
import { TransferSyntax } from '../../dictionary/uids.js';
import { convertible, isListedFiles, markListedFiles, resolveSources, type StoreSource } from './store.js';

/** One association's share of a batch: its sources and the contexts to propose for them. */
export interface StoragePlan {
  readonly sources: StoreSource[];
  readonly presentationContexts: RequestedContext[];
}

/**
 * Split `sources` over as few associations as the 128 presentation contexts of one allow (PS3.8
 * 9.3.2.2): SOP classes are packed in the order first met, each with its contexts
 * ({@link storageContextsFor}), and every source goes with its class. Sources that cannot be
 * read go with the first association (they fail there, alone). One plan when everything fits.
 */
export async function planStorageAssociations(sources: readonly StoreSource[], maxContexts = MAX_PRESENTATION_CONTEXTS): Promise<StoragePlan[]> {
  const resolved = await resolveSources(sources);
  const byClass = new Map<string, { ts: Set<string>; sources: StoreSource[] }>();
  const unreadable: StoreSource[] = [];
  for (const r of resolved) {
    if ('error' in r) {
      unreadable.push(r.path);
      continue;
    }
    const entry = byClass.get(r.sopClassUid) ?? { ts: new Set<string>(), sources: [] };
    entry.ts.add(r.transferSyntaxUid);
    if (convertible(r.transferSyntaxUid)) entry.ts.add(TransferSyntax.ImplicitVrLittleEndian);
    entry.sources.push(r.path ?? { sopClassUid: r.sopClassUid, sopInstanceUid: r.sopInstanceUid, transferSyntaxUid: r.transferSyntaxUid, dataset: r.dataset!, ...(r.size === undefined ? {} : { size: r.size }) });
    byClass.set(r.sopClassUid, entry);
  }
  const plans: { sources: StoreSource[]; presentationContexts: RequestedContext[]; count: number }[] = [];
  for (const [abstractSyntax, { ts, sources: classSources }] of byClass) {
    const needed = Math.min(ts.size, maxContexts);
    let plan = plans.at(-1);
    if (plan === undefined || plan.count + needed > maxContexts) {
      plan = { sources: [], presentationContexts: [], count: 0 };
      plans.push(plan);
    }
    plan.presentationContexts.push({ abstractSyntax, transferSyntaxes: [...ts].slice(0, maxContexts), separateContextPerTransferSyntax: true });
    plan.sources.push(...classSources);
    plan.count += needed;
  }
  if (plans.length === 0) plans.push({ sources: [], presentationContexts: [], count: 0 });
  plans[0]!.sources.unshift(...unreadable);
  // One association: the sources in the order given.
  if (plans.length === 1) plans[0]!.sources = [...sources];
  // Files already listed stay so: storeInstances does not stat them again.
  const listed = isListedFiles(sources);
  return plans.map(({ sources: s, presentationContexts }) => ({ sources: listed ? markListedFiles(s as string[]) : s, presentationContexts }));
}

