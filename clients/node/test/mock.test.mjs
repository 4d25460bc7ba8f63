// The Node helper's own tests (node:test): starting, options, control
// calls, errors. Needs the binary (STRIPE_SECRETS_MOCK_BIN or PATH).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { BINARY_ENV, MockError, findBinary, startMock } from '../index.js';

const KEY = 'Bearer sk_test_nodehelper';

const api = (mock, method, path, form) =>
  fetch(mock.url + path, {
    method,
    headers: {
      authorization: KEY,
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });

test('a mock starts on a free port and stops on close', async () => {
  const mock = await startMock();
  assert.match(mock.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await mock.health()).status, 'ok');
  await mock.close();
  await assert.rejects(fetch(mock.url + '/_mock/health'));
  await mock.close(); // closing twice is fine
});

test('options become CLI flags', async () => {
  const mock = await startMock({ seed: 7, now: 1_800_000_000, maxSecretsPerScope: 1 });
  try {
    assert.equal(await mock.clock.now(), 1_800_000_000);
    const form = { name: 'a', payload: 'v', 'scope[type]': 'account' };
    assert.equal((await api(mock, 'POST', '/v1/apps/secrets', form)).status, 200);
    const full = await api(mock, 'POST', '/v1/apps/secrets', { ...form, name: 'b' });
    assert.equal(full.status, 400);
    assert.equal((await full.json()).error.param, 'name');
  } finally {
    await mock.close();
  }
});

test('the clock moves and expires secrets', async () => {
  const mock = await startMock();
  try {
    const form = { name: 'k', payload: 'v', 'scope[type]': 'account', expires_at: 1_700_000_060 };
    await api(mock, 'POST', '/v1/apps/secrets', form);
    const find = '/v1/apps/secrets/find?name=k&scope[type]=account';
    assert.equal((await api(mock, 'GET', find)).status, 200);
    assert.equal(await mock.clock.advance(60), 1_700_000_060);
    assert.equal((await api(mock, 'GET', find)).status, 404);
    assert.equal(await mock.clock.set(1_700_000_000), 1_700_000_000);
  } finally {
    await mock.close();
  }
});

test('faults, journal, reset and state', async () => {
  const mock = await startMock();
  try {
    const fault = await mock.faults.add({ status: 503, operation: 'postAppsSecrets' });
    assert.equal(fault.status, 503);
    assert.equal((await mock.faults.list())[0].remaining, 1);
    const form = { name: 'k', payload: 'v', 'scope[type]': 'account' };
    assert.equal((await api(mock, 'POST', '/v1/apps/secrets', form)).status, 503);
    assert.equal((await api(mock, 'POST', '/v1/apps/secrets', form)).status, 200);
    const journal = await mock.requests({ operation: 'postAppsSecrets' });
    assert.deepEqual(journal.map((r) => r.status), [503, 200]);
    assert.equal(journal[0].params.payload, '[redacted]');
    const state = await mock.state();
    assert.deepEqual(state.secrets.map((s) => s.name), ['k']);
    assert.equal((await mock.reset({ app: 'sk_test_nodehelper' })).requests_removed, 2);
    assert.deepEqual((await mock.state()).secrets, []);
    assert.equal((await mock.loadState(state)).secrets, 1);
  } finally {
    await mock.close();
  }
});

test('transcript and coverage', async () => {
  const mock = await startMock();
  try {
    const form = { name: 'k', payload: 'v', 'scope[type]': 'account' };
    assert.equal((await api(mock, 'POST', '/v1/apps/secrets', form)).status, 200);
    const t = await mock.transcript({ app: 'sk_test_nodehelper' });
    assert.equal(t.object, 'mock.transcript');
    assert.equal(t.interactions.length, 1);
    assert.deepEqual(t.interactions[0].request.params, { name: 'k', payload: 'v', scope: { type: 'account' } });
    const redacted = await mock.transcript({ redact: 'payload' });
    assert.equal(redacted.interactions[0].request.params.payload, '[redacted]');
    const coverage = await mock.coverage();
    assert.equal(coverage.requests, 1);
    assert.ok(coverage.never_exercised.includes('postAppsSecrets: 400 scope_full'));
    assert.ok(!coverage.never_exercised.includes('postAppsSecrets: 200'));
  } finally {
    await mock.close();
  }
});

test('a control token is passed and sent', async () => {
  const mock = await startMock({ controlToken: 't0ken' });
  try {
    assert.equal((await mock.health()).status, 'ok');
    assert.equal((await fetch(mock.url + '/_mock/health')).status, 401);
  } finally {
    await mock.close();
  }
});

test('a refused control request rejects with the mock\'s message', async () => {
  const mock = await startMock();
  try {
    await assert.rejects(mock.faults.add({ status: 503, count: 0 }), (e) => {
      assert.ok(e instanceof MockError);
      assert.match(e.message, /400: This value must be greater than or equal to 1/);
      return true;
    });
  } finally {
    await mock.close();
  }
});

test('a mock that cannot start rejects with its stderr', async () => {
  await assert.rejects(startMock({ fixtures: ['/no/such/fixture.json'] }), (e) => {
    assert.ok(e instanceof MockError);
    assert.match(e.message, /did not start[\s\S]*cannot read/);
    return true;
  });
});

test('a missing binary names both places to put it', () => {
  assert.throws(() => findBinary({ PATH: '/nonexistent' }), (e) => {
    assert.ok(e.message.includes(BINARY_ENV) && e.message.includes('PATH'));
    return true;
  });
  assert.throws(() => findBinary({ [BINARY_ENV]: '/no/such/binary' }), /not an executable/);
});

test('installUiExtensionHost sends what a UI extension sends, as its user, and undoes itself', async () => {
  const mock = await startMock();
  const before = globalThis.__StripeExtExports;
  try {
    await api(mock, 'POST', '/v1/apps/secrets', {
      name: 'tok', payload: 'v', 'scope[type]': 'user', 'scope[user]': 'usr_2',
    });
    const uninstall = mock.installUiExtensionHost({ user: 'usr_1', apiKey: 'sk_test_nodehelper' });
    const call = globalThis.__StripeExtExports.endpoint.call;
    assert.equal(await call.supportsFetchAppEmbeddedKey(), false);
    // What the SDK's client passes: the path, and the placeholder key.
    const res = await call.stripeApiFetch(
      '/v1/apps/secrets/find?name=tok&scope[type]=user&scope[user]=usr_2',
      { method: 'GET', headers: { Authorization: 'Bearer DO_NOT_PASS_A_REAL_API_KEY' } },
    );
    assert.equal(res.status, 403);
    assert.equal(res.json.error.param, 'scope[user]');
    assert.match(res.headers['request-id'], /^req_/);
    uninstall();
    assert.equal(globalThis.__StripeExtExports, before);
    assert.throws(() => mock.installUiExtensionHost({}), /needs the Dashboard user/);
  } finally {
    await mock.close();
  }
});
