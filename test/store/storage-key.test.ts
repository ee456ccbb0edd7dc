import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathOfKey } from '../../src/store/storage-key.js';
import { StoreError } from '../../src/store/errors.js';

test('pathOfKey: the key joined under the root as path.join makes it, for roots of every form; keys leaving the root refused', () => {
  const roots = ['/data/store', '/data/store/', '/data//store/./x/..', '/', '', '.', './store', 'store/', '../up', 'a/..', '/data/store'];
  const keys = ['1.2/1.2.3/1.2.3.4.dcm', '9/8/7-k3x0abcd.dcm'];
  for (const root of roots) for (const key of keys) assert.equal(pathOfKey(root, key), join(root, ...key.split('/')), `${root} + ${key}`);
  for (const bad of ['', '1.2//x.dcm', '../x/y.dcm', '1/./x.dcm', 'a/b\\c.dcm']) assert.throws(() => pathOfKey('/data', bad), StoreError);
});
