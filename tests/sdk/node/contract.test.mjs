// The official Stripe Node SDK (pinned in package.json) against the
// standalone mock, started through the project's own Node helper
// (clients/node), its first user.
// Run: STRIPE_SECRETS_MOCK_BIN=/abs/path/to/stripe-secrets-mock npm test
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Stripe from 'stripe';
import { startMock } from 'stripe-secrets-mock';

let mock;

before(async () => {
  mock = await startMock();
});

after(() => mock.close());

// Each test uses its own key: the mock isolates apps by API key.
const client = (key, options = {}) => mock.stripeClient(key, options);

const account = { type: 'account' };

test('create hides the payload unless expanded', async () => {
  const stripe = await client('sk_test_nodecreate');
  const plain = await stripe.apps.secrets.create({ name: 'k', payload: 'v', scope: account });
  assert.equal(plain.object, 'apps.secret');
  assert.match(plain.id, /^appsecret_[A-Za-z0-9]{30}$/);
  assert.equal(plain.payload, undefined);
  assert.equal(plain.livemode, false);
  const expanded = await stripe.apps.secrets.create({
    name: 'k2', payload: 'v2', scope: account, expand: ['payload'],
  });
  assert.equal(expanded.payload, 'v2');
});

test('find with and without expand, and replace', async () => {
  const stripe = await client('sk_test_nodefind');
  const first = await stripe.apps.secrets.create({
    name: 'tok', payload: 'one', scope: { type: 'user', user: 'usr_1' },
  });
  const scope = { type: 'user', user: 'usr_1' };
  const plain = await stripe.apps.secrets.find({ name: 'tok', scope });
  assert.equal(plain.id, first.id);
  assert.equal(plain.payload, undefined);
  assert.equal(plain.scope.user, 'usr_1');
  const second = await stripe.apps.secrets.create({ name: 'tok', payload: 'two', scope });
  assert.notEqual(second.id, first.id);
  const full = await stripe.apps.secrets.find({ name: 'tok', scope, expand: ['payload'] });
  assert.equal(full.payload, 'two');
});

test('list auto-paginates newest first', async () => {
  const stripe = await client('sk_test_nodelist');
  for (let i = 0; i < 5; i++) {
    await stripe.apps.secrets.create({ name: `n${i}`, payload: 'v', scope: account });
  }
  const page = await stripe.apps.secrets.list({ scope: account, limit: 2 });
  assert.equal(page.data.length, 2);
  assert.equal(page.has_more, true);
  const names = await stripe.apps.secrets
    .list({ scope: account, limit: 2 })
    .autoPagingToArray({ limit: 100 });
  assert.deepEqual(names.map((s) => s.name), ['n4', 'n3', 'n2', 'n1', 'n0']);
  const expanded = await stripe.apps.secrets.list({ scope: account, limit: 1, expand: ['data.payload'] });
  assert.equal(expanded.data[0].payload, 'v');
});

test('deleteWhere returns the deleted secret', async () => {
  const stripe = await client('sk_test_nodedelete');
  await stripe.apps.secrets.create({ name: 'gone', payload: 'v', scope: account });
  const deleted = await stripe.apps.secrets.deleteWhere({ name: 'gone', scope: account });
  assert.equal(deleted.deleted, true);
  assert.equal(deleted.name, 'gone');
});

test('a missing secret is a StripeInvalidRequestError with code and param', async () => {
  const stripe = await client('sk_test_node404');
  await assert.rejects(stripe.apps.secrets.find({ name: 'nope', scope: account }), (err) => {
    assert.ok(err instanceof Stripe.errors.StripeInvalidRequestError, err.constructor.name);
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, 'resource_missing');
    assert.equal(err.param, 'name');
    assert.equal(err.message, "No such secret: 'nope'");
    assert.match(err.requestId, /^req_/);
    return true;
  });
});

test('a bad parameter names it', async () => {
  const stripe = await client('sk_test_nodebad');
  await assert.rejects(stripe.apps.secrets.list({ scope: { type: 'team' } }), (err) => {
    assert.equal(err.statusCode, 400);
    assert.equal(err.param, 'scope[type]');
    return true;
  });
});

test('a bad key is a StripeAuthenticationError', async () => {
  const stripe = await client('sk_test_bad-key');
  await assert.rejects(stripe.apps.secrets.list({ scope: account }), (err) => {
    assert.ok(err instanceof Stripe.errors.StripeAuthenticationError, err.constructor.name);
    assert.equal(err.statusCode, 401);
    return true;
  });
});

test('an sk_live_ key gives livemode true', async () => {
  const stripe = await client('sk_live_node');
  const s = await stripe.apps.secrets.create({ name: 'k', payload: 'v', scope: account });
  assert.equal(s.livemode, true);
});

test('the automatic retry after a lost 500 ends in exactly one secret', async () => {
  const key = 'sk_test_noderetry500';
  await mock.faults.add({ status: 500, after: true, operation: 'postAppsSecrets', app: key });
  const stripe = await client(key, { maxNetworkRetries: 2 });
  const s = await stripe.apps.secrets.create({ name: 'once', payload: 'v', scope: account });
  const list = await stripe.apps.secrets.list({ scope: account });
  assert.deepEqual(list.data.map((x) => x.id), [s.id]);
  const journal = await mock.requests({ app: key, operation: 'postAppsSecrets' });
  assert.deepEqual(
    journal.map((r) => [r.status, r.fault, r.replayed]),
    [[500, 'status 500 after execution', false], [200, null, true]],
  );
});

test('the automatic retry after an injected 409 ends in exactly one secret', async () => {
  const key = 'sk_test_noderetry409';
  await mock.faults.add({ status: 409, operation: 'postAppsSecrets', app: key });
  const stripe = await client(key, { maxNetworkRetries: 2 });
  await stripe.apps.secrets.create({ name: 'once', payload: 'v', scope: account });
  const list = await stripe.apps.secrets.list({ scope: account });
  assert.equal(list.data.length, 1);
  const journal = await mock.requests({ app: key, operation: 'postAppsSecrets' });
  assert.deepEqual(journal.map((r) => r.status), [409, 200]);
});

test('Stripe-Should-Retry: false stops the SDK from retrying', async () => {
  const key = 'sk_test_nodenoretry';
  await mock.faults.add({ status: 503, should_retry: false, app: key });
  const stripe = await client(key, { maxNetworkRetries: 2 });
  await assert.rejects(stripe.apps.secrets.list({ scope: account }), (err) => {
    assert.equal(err.statusCode, 503);
    assert.equal(err.type, 'StripeAPIError');
    return true;
  });
  assert.equal((await mock.requests({ app: key })).length, 1);
});
