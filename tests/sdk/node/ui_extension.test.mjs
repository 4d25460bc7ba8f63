// A Stripe App end to end against the standalone mock, with the real
// packages an app uses: its UI extension's code (app/secrets_view.js, over
// @stripe/ui-extension-sdk's HTTP client and stripe-node) reaching the mock
// for one Dashboard user, and its backend held to the app's manifest.
// Run: STRIPE_SECRETS_MOCK_BIN=/abs/path/to/stripe-secrets-mock npm test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startMock } from 'stripe-secrets-mock';

const work = mkdtempSync(join(tmpdir(), 'ssm-app-'));

/** The extension's code, bundled as the Stripe CLI bundles it for the Dashboard. */
async function loadExtension() {
  const outfile = join(work, 'secrets_view.bundle.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./app/secrets_view.js', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'error',
    // Some CommonJS dependencies call require(); give the bundle one.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return import(pathToFileURL(outfile).href);
}

test('a UI extension reads its own user secret and is refused another user\'s', async () => {
  const mock = await startMock();
  const backend = await mock.stripeClient('sk_test_uiapp');
  try {
    for (const user of ['usr_me', 'usr_other']) {
      await backend.apps.secrets.create({
        name: 'oauth_token', payload: `token of ${user}`, scope: { type: 'user', user },
      });
    }
    const view = await loadExtension();
    const uninstall = mock.installUiExtensionHost({ user: 'usr_me', apiKey: 'sk_test_uiapp' });
    try {
      assert.equal(await view.readUserToken('usr_me'), 'token of usr_me');
      assert.match(await view.saveAccountSetting('dark'), /^appsecret_/);
      await assert.rejects(view.readUserToken('usr_other'), (err) => {
        assert.equal(err.statusCode, 403);
        assert.equal(err.type, 'StripePermissionError');
        assert.equal(err.param, 'scope[user]');
        assert.match(err.message, /UI extensions can only access account-scoped secrets/);
        return true;
      });
    } finally {
      uninstall();
    }
    // The requests came in as the extension's, for that user.
    const journal = await mock.requests({ app: 'sk_test_uiapp' });
    assert.equal(journal.at(-1).status, 403);
    const transcript = await mock.transcript({ app: 'sk_test_uiapp' });
    const sent = transcript.interactions.at(-1).request.headers;
    assert.equal(sent['stripe-mock-ui-extension-user'], 'usr_me');
  } finally {
    await mock.close();
  }
});

const manifest = (permissions) => {
  const file = join(work, `stripe-app-${permissions.length}.json`);
  writeFileSync(file, JSON.stringify({
    id: 'com.example.secrets', version: '1.0.0', name: 'Secrets example',
    permissions: permissions.map((permission) => ({ permission, purpose: 'the example needs it' })),
  }));
  return file;
};

test('a backend whose manifest lacks secret_write is refused, and passes once it is added', async () => {
  const run = async (file) => {
    const mock = await startMock({ appManifest: [file] });
    try {
      const stripe = await mock.stripeClient('sk_test_manifest');
      return await stripe.apps.secrets.create({
        name: 'api_key', payload: 'x', scope: { type: 'account' },
      });
    } finally {
      await mock.close();
    }
  };
  await assert.rejects(run(manifest(['customer_read'])), (err) => {
    assert.equal(err.statusCode, 403);
    assert.equal(err.code, 'more_permissions_required_for_application');
    assert.match(err.message, /Having the 'secret_write' permission would allow this request/);
    return true;
  });
  const created = await run(manifest(['customer_read', 'secret_write']));
  assert.equal(created.object, 'apps.secret');
});
