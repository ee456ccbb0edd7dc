/**
 * The bench's cluster rows without HAProxy: every one is "not available" (the runner prints n/a and
 * goes on), never an error or a hang. HAPROXY_BIN is honoured alone when set, so a path that does
 * not exist stands for a machine without HAProxy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterWorkloads } from '../../bench/cluster-bench.js';
import { NotAvailableError } from '../../bench/lib/types.js';
import type { Context } from '../../bench/workloads.js';

test('cluster rows: 1 and 3 nodes × S3 and shared directory × small and large, n/a without haproxy', async () => {
  process.env['HAPROXY_BIN'] = '/nonexistent/haproxy';
  const rows = clusterWorkloads({ small: (c) => c.data.small, large: (c) => c.data.large });
  assert.deepEqual(rows.map((r) => r.id).sort(), [
    'cluster-large-dir/1-node', 'cluster-large-dir/3-nodes', 'cluster-large-s3/1-node', 'cluster-large-s3/3-nodes',
    'cluster-small-dir/1-node', 'cluster-small-dir/3-nodes', 'cluster-small-s3/1-node', 'cluster-small-s3/3-nodes',
  ]);
  const ctx = { data: { small: [], large: [], warm: [] }, quick: true } as unknown as Context;
  for (const row of rows) {
    await assert.rejects(row.measure(ctx), (e: unknown) => e instanceof NotAvailableError && /haproxy is not installed/.test(e.message), row.id);
  }
});
