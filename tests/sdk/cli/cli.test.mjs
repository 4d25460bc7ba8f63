// The official Stripe CLI (npm @stripe/cli, pinned) against the standalone
// mock, as a developer tries it by hand: set, find, list, delete, and the
// 404 after. The CLI refuses keys shorter than 12 characters and takes `_`
// after the prefix, so the key here is one it accepts.
// Run: STRIPE_SECRETS_MOCK_BIN=/abs/path/to/stripe-secrets-mock npm test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startMock } from 'stripe-secrets-mock';

const cli = fileURLToPath(new URL('./node_modules/.bin/stripe', import.meta.url));
const KEY = 'sk_test_cli_0123456789';

/** Runs `stripe METHOD PATH -d …` against the mock; its JSON answer. */
async function stripe(mock, method, path, ...data) {
  const args = [method, path, '--api-key', KEY, '--api-base', mock.url];
  for (const d of data) args.push('-d', d);
  // The CLI prints the body on stdout, and a failed request's on stderr.
  const run = await promisify(execFile)(cli, args, {
    env: { ...process.env, STRIPE_CLI_TELEMETRY_OPTOUT: '1' },
    timeout: 30_000,
  }).catch((e) => e);
  const text = `${run.stdout}${run.stderr}`;
  const json = text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1);
  return JSON.parse(json);
}

test('the Stripe CLI sets, finds, lists and deletes a secret', async () => {
  const mock = await startMock();
  try {
    const account = 'scope[type]=account';
    const set = await stripe(mock, 'post', '/v1/apps/secrets', 'name=api_key', 'payload=s3cr3t', account);
    assert.equal(set.object, 'apps.secret');
    const found = await stripe(mock, 'get', '/v1/apps/secrets/find', 'name=api_key', account, 'expand[]=payload');
    assert.equal(found.id, set.id);
    assert.equal(found.payload, 's3cr3t');
    const list = await stripe(mock, 'get', '/v1/apps/secrets', account);
    assert.deepEqual(list.data.map((s) => s.name), ['api_key']);
    const deleted = await stripe(mock, 'post', '/v1/apps/secrets/delete', 'name=api_key', account);
    assert.equal(deleted.deleted, true);
    const gone = await stripe(mock, 'get', '/v1/apps/secrets/find', 'name=api_key', account);
    assert.equal(gone.error.code, 'resource_missing');
    // What the mock saw: the CLI's own requests, with the CLI's key.
    const journal = await mock.requests();
    assert.deepEqual(journal.map((r) => r.status), [200, 200, 200, 200, 404]);
    assert.ok(journal.every((r) => r.app === 'sk_test_**********6789'), journal[0].app);
  } finally {
    await mock.close();
  }
});
