// A Stripe App's UI extension code, as an app developer writes it: the
// official stripe-node client over @stripe/ui-extension-sdk's HTTP client,
// which in the Dashboard routes every request through the signed-in user's
// session. Nothing here knows about the mock; the test bundles this file
// with esbuild (the SDK ships ES modules that need a bundler) and stands in
// for the Dashboard with the mock's helper.
import Stripe from 'stripe';
import { createHttpClient, STRIPE_API_KEY } from '@stripe/ui-extension-sdk/http_client';

const stripe = new Stripe(STRIPE_API_KEY, {
  httpClient: createHttpClient(),
  apiVersion: '2023-10-16',
});

/** The signed-in user's own token, as the view shows it. */
export async function readUserToken(userId) {
  const secret = await stripe.apps.secrets.find({
    name: 'oauth_token',
    scope: { type: 'user', user: userId },
    expand: ['payload'],
  });
  return secret.payload;
}

/** A setting every user of the account shares. */
export async function saveAccountSetting(value) {
  const secret = await stripe.apps.secrets.create({
    name: 'shared_setting',
    payload: value,
    scope: { type: 'account' },
  });
  return secret.id;
}
