// Start the stripe-secrets-mock server from Node tests and drive its
// /_mock/ control API. No runtime dependencies: Node's own child_process,
// readline and fetch. `stripe` is loaded only by stripeClient().
//
// The binary is found through STRIPE_SECRETS_MOCK_BIN, then PATH
// (`cargo install --path .` in the project puts it there).

import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BINARY_ENV = 'STRIPE_SECRETS_MOCK_BIN';
const BINARY_NAME = 'stripe-secrets-mock';

/** The mock could not start, died, or refused a control request. */
export class MockError extends Error {
  constructor(message) {
    super(message);
    this.name = 'MockError';
  }
}

const executable = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The npm package that bundles the binary for this platform. */
export const PLATFORM_PACKAGE = `stripe-secrets-mock-${process.platform}-${process.arch}`;

/** The binary the platform package installed beside this one, if any. */
export function bundledBinary() {
  try {
    const manifest = createRequire(import.meta.url).resolve(`${PLATFORM_PACKAGE}/package.json`);
    const candidate = join(dirname(manifest), 'bin', BINARY_NAME);
    return executable(candidate) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The binary to run: the platform package's, else $STRIPE_SECRETS_MOCK_BIN,
 * else stripe-secrets-mock on PATH.
 */
export function findBinary(env = process.env) {
  const bundled = bundledBinary();
  if (bundled) return bundled;
  const configured = env[BINARY_ENV];
  if (configured) {
    if (!executable(configured)) {
      throw new MockError(`${BINARY_ENV}=${configured} is not an executable file`);
    }
    return configured;
  }
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, BINARY_NAME);
    if (executable(candidate)) return candidate;
  }
  throw new MockError(
    `cannot find the ${BINARY_NAME} binary: install ${PLATFORM_PACKAGE} (which bundles it), ` +
      `set ${BINARY_ENV} to its path, or put ${BINARY_NAME} on PATH (from the project's ` +
      `folder: cargo install --locked --path .)`,
  );
}

/** CLI flags from options: {seed: 1} -> --seed 1, {systemClock: true} -> --system-clock. */
function flags(options) {
  const out = [];
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null || value === false || name === 'binary') continue;
    const flag = '--' + name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()).replace(/_/g, '-');
    if (value === true) out.push(flag);
    else if (Array.isArray(value)) for (const item of value) out.push(flag, String(item));
    else out.push(flag, String(value));
  }
  return out;
}

/**
 * Starts the mock on a free port. Options are the binary's CLI options
 * ({seed, now, fixtures: [...], apiKey: [...], maxSecretsPerScope,
 * systemClock, lenient, controlToken}) plus `binary` (a path). Resolves once
 * it listens. With `controlToken`, every control call sends it.
 */
export async function startMock(options = {}) {
  const binary = options.binary ?? findBinary();
  const child = spawn(binary, ['--port', '0', ...flags(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // stderr is read all along (a pipe nobody reads could fill and stall the
  // mock), kept to show if it dies.
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  const lines = createInterface({ input: child.stdout });
  const line = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('error', (e) => reject(new MockError(`cannot run ${binary}: ${e.message}`)));
    child.once('exit', (code) =>
      setImmediate(() =>
        reject(new MockError(`${binary} did not start (exit code ${code}):\n${stderr}`)),
      ),
    );
  });
  if (!line.startsWith('listening on ')) {
    child.kill();
    throw new MockError(`unexpected first line from ${binary}: ${line}`);
  }
  return new Mock(child, line.slice('listening on '.length), () => stderr, options.controlToken);
}

/**
 * The `stripe` package's ES module, as `import 'stripe'` in the project the
 * tests run in would load it (so `instanceof Stripe.errors.…` holds in
 * tests): found from the working directory, else beside this package.
 */
async function loadStripe() {
  for (const from of [join(process.cwd(), 'index.js'), fileURLToPath(import.meta.url)]) {
    let entry;
    try {
      entry = createRequire(from).resolve('stripe');
    } catch {
      continue;
    }
    // The package's own manifest (its cjs/ and esm/ folders have their own).
    let root = dirname(entry);
    let manifest;
    for (; dirname(root) !== root; root = dirname(root)) {
      const file = join(root, 'package.json');
      if (existsSync(file)) {
        manifest = JSON.parse(readFileSync(file, 'utf8'));
        if (manifest.name === 'stripe') break;
      }
    }
    const exports = manifest?.name === 'stripe' ? manifest.exports : undefined;
    const target = exportTarget(exports?.['.'] ?? exports);
    const file = target ? join(root, target) : entry;
    return (await import(pathToFileURL(file).href)).default;
  }
  throw new MockError('stripeClient() needs the stripe package: npm install stripe');
}

/** Node's conditional-exports choice for `import` on Node. */
function exportTarget(target) {
  if (typeof target === 'string') return target;
  if (!target || typeof target !== 'object') return undefined;
  for (const [condition, value] of Object.entries(target)) {
    if (['node', 'import', 'default'].includes(condition)) {
      const found = exportTarget(value);
      if (found) return found;
    }
  }
  return undefined;
}

class Mock {
  constructor(child, url, stderr, controlToken) {
    this.child = child;
    this.controlToken = controlToken;
    this.url = url;
    this.port = Number(new URL(url).port);
    this.stderr = stderr;
    this.clock = {
      now: async () => (await this.#call('GET', '/_mock/clock')).now,
      set: async (unixSeconds) => (await this.#call('POST', '/_mock/clock', { now: unixSeconds })).now,
      advance: async (seconds) => (await this.#call('POST', '/_mock/clock', { advance: seconds })).now,
    };
    this.faults = {
      add: (fault = {}) => this.#call('POST', '/_mock/faults', fault),
      list: async () => (await this.#call('GET', '/_mock/faults')).data,
    };
  }

  async #call(method, path, form, json) {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      throw new MockError(`the mock is not running:\n${this.stderr()}`);
    }
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(form ?? {})) {
      if (v !== undefined && v !== null) params.append(k, String(v));
    }
    let url = this.url + path;
    const init = { method, headers: {} };
    if (this.controlToken) init.headers.authorization = `Bearer ${this.controlToken}`;
    if (json !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(json);
    } else if (method === 'GET') {
      if ([...params].length) url += '?' + params;
    } else {
      init.headers['content-type'] = 'application/x-www-form-urlencoded';
      init.body = params.toString();
    }
    const res = await fetch(url, init);
    const body = await res.json();
    if (!res.ok) {
      throw new MockError(`${method} ${path}: ${res.status}: ${body?.error?.message ?? JSON.stringify(body)}`);
    }
    return body;
  }

  /** GET /_mock/health. */
  health() {
    return this.#call('GET', '/_mock/health');
  }

  /** Everything back to the startup state, or one app's (one account's) partitions. */
  reset({ app, account } = {}) {
    return this.#call('POST', '/_mock/reset', { app, account });
  }

  /** The journal, oldest first; optionally one operation's, one app's. */
  async requests({ operation, app } = {}) {
    return (await this.#call('GET', '/_mock/requests', { operation, app })).data;
  }

  /** All secrets and the clock, in the fixture format. */
  /** The journal as a replayable transcript (`mock.transcript`). */
  transcript({ app, account, operation, redact } = {}) {
    return this.#call('GET', '/_mock/transcript', { app, account, operation, redact });
  }

  /** Which outcomes and parameters each operation's requests exercised. */
  coverage() {
    return this.#call('GET', '/_mock/coverage');
  }

  state() {
    return this.#call('GET', '/_mock/state');
  }

  /** Replaces all secrets with a fixture (atomic). */
  loadState(fixture) {
    return this.#call('POST', '/_mock/state', undefined, fixture);
  }

  /**
   * A Stripe client for `apiKey` pointed at the mock. Uses the `stripe`
   * package of the project the tests run in (resolved from the working
   * directory), else one beside this package.
   */
  async stripeClient(apiKey = 'sk_test_123', options = {}) {
    const Stripe = await loadStripe();
    return new Stripe(apiKey, { host: '127.0.0.1', port: this.port, protocol: 'http', ...options });
  }

  /**
   * Stands in for the Stripe Dashboard that `@stripe/ui-extension-sdk`'s HTTP
   * client talks to, so UI-extension code under test reaches this mock
   * unchanged (`new Stripe(STRIPE_API_KEY, {httpClient: createHttpClient()})`):
   * each of its requests is sent to the mock as the app with `apiKey`, from a
   * UI extension rendered for Dashboard user `user` (the mock's
   * `Stripe-Mock-UI-Extension-User` header), so the mock applies Stripe's
   * rule for UI extensions: account scope, or that user's own secrets.
   * Returns a function that puts back whatever stood there before.
   */
  installUiExtensionHost({ user, apiKey = 'sk_test_123' } = {}) {
    if (!user) throw new MockError('installUiExtensionHost needs the Dashboard user: { user: "usr_…" }');
    const previous = globalThis.__StripeExtExports;
    const mockUrl = this.url;
    const stripeApiFetch = async (pathAndQuery, options = {}) => {
      const headers = { ...(options.headers ?? {}) };
      for (const name of Object.keys(headers)) {
        if (name.toLowerCase() === 'authorization') delete headers[name];
      }
      headers.authorization = `Bearer ${apiKey}`;
      headers['stripe-mock-ui-extension-user'] = user;
      const res = await fetch(mockUrl + pathAndQuery, {
        method: options.method ?? 'GET',
        headers,
        body: options.body,
      });
      const text = await res.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: Object.fromEntries(res.headers), json };
    };
    globalThis.__StripeExtExports = {
      ...(previous ?? {}),
      endpoint: {
        call: {
          // The SDK then sends every request through stripeApiFetch.
          supportsFetchAppEmbeddedKey: async () => false,
          stripeApiFetch,
        },
      },
    };
    return () => {
      globalThis.__StripeExtExports = previous;
    };
  }

  /** Stops the mock gracefully (SIGTERM; SIGKILL after 5 s). */
  async close() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
