// Types for stripe-secrets-mock's Node helper.

/** The environment variable naming the binary to run. */
export declare const BINARY_ENV: 'STRIPE_SECRETS_MOCK_BIN';

/** The mock could not start, died, or refused a control request. */
export declare class MockError extends Error {}

/** The binary to run: the platform package's, else $STRIPE_SECRETS_MOCK_BIN, else PATH. */
export declare function findBinary(env?: Record<string, string | undefined>): string;

/** The binary's CLI options, camelCase; `binary` overrides where it is found. */
export interface MockOptions {
  binary?: string;
  seed?: number;
  now?: number;
  fixtures?: string[];
  apiKey?: string[];
  maxSecretsPerScope?: number;
  systemClock?: boolean;
  lenient?: boolean;
  /** Required on /_mock/ calls; the helper sends it. */
  controlToken?: string;
  /** Refuse any Stripe-Version but the spec's. */
  strictVersionCheck?: boolean;
  /** stripe-app.json files: `PATH` for every key, `KEY=PATH` for one. */
  appManifest?: string[];
}

export interface Clock {
  now(): Promise<number>;
  set(unixSeconds: number): Promise<number>;
  advance(seconds: number): Promise<number>;
}

export interface FaultOptions {
  status?: number;
  close?: boolean;
  delay_ms?: number;
  count?: number;
  operation?: string;
  app?: string;
  after?: boolean;
  should_retry?: boolean;
}

export interface Fault {
  object: 'mock.fault';
  remaining: number;
  operation: string | null;
  app: string | null;
  status: number | null;
  close: boolean;
  delay_ms: number;
  after: boolean;
  should_retry: boolean | null;
}

export interface RecordedRequest {
  object: 'mock.request';
  at: number;
  request_id: string;
  method: string;
  path: string;
  operation: string | null;
  app: string | null;
  account: string | null;
  params: Record<string, unknown> | null;
  status: number | null;
  object_id: string | null;
  fault: string | null;
  replayed: boolean;
}

export interface FixtureSecret {
  app: string;
  account?: string | null;
  id?: string;
  name: string;
  payload: string;
  scope: { type: 'account' } | { type: 'user'; user: string };
  created?: number;
  expires_at?: number | null;
}

export interface Fixture {
  clock?: { now: number };
  secrets?: FixtureSecret[];
}

export interface Mock {
  /** Base URL, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  readonly port: number;
  readonly clock: Clock;
  readonly faults: {
    add(fault?: FaultOptions): Promise<Fault>;
    list(): Promise<Fault[]>;
  };
  /** What the mock has written to stderr (the last 64 KiB). */
  stderr(): string;
  health(): Promise<{ object: 'mock.health'; status: string; spec_version: string }>;
  reset(filter?: { app?: string; account?: string }): Promise<Record<string, unknown>>;
  requests(filter?: { operation?: string; app?: string }): Promise<RecordedRequest[]>;
  /** The journal as a replayable transcript: each request as sent and its answer. */
  transcript(filter?: {
    app?: string;
    account?: string;
    operation?: string;
    redact?: 'payload' | 'keys' | 'all';
  }): Promise<Transcript>;
  /** Which outcomes and parameters of each operation the requests so far exercised. */
  coverage(): Promise<Coverage>;
  state(): Promise<Fixture>;
  loadState(fixture: Fixture): Promise<{ object: 'mock.state_import'; secrets: number }>;
  /** A `Stripe` instance for `apiKey` pointed at the mock (needs the stripe package). */
  stripeClient(apiKey?: string, options?: Record<string, unknown>): Promise<any>;
  /**
   * Stands in for the Dashboard that `@stripe/ui-extension-sdk`'s HTTP client
   * talks to: UI-extension code reaches the mock unchanged, as the app with
   * `apiKey`, for Dashboard user `user`. Returns a function that undoes it.
   */
  installUiExtensionHost(options: { user: string; apiKey?: string }): () => void;
  close(): Promise<void>;
}

/** The npm package that bundles the binary for this platform (`stripe-secrets-mock-linux-x64`). */
export declare const PLATFORM_PACKAGE: string;
/** The binary that package installed, if it is installed. */
export declare function bundledBinary(): string | undefined;
/** Starts the mock on a free port; resolves once it listens. */
export declare function startMock(options?: MockOptions): Promise<Mock>;

/** A recorded conversation (`GET /_mock/transcript`), replayable by `stripe-secrets-mock verify`. */
export interface Transcript {
  object: 'mock.transcript';
  version: 1;
  spec_version: string;
  dropped: number;
  violations: number;
  interactions: Array<{
    operation: string | null;
    request: {
      method: string;
      path: string;
      headers: Record<string, string>;
      params: Record<string, unknown> | null;
      query?: string;
      body?: string;
    };
    response: { status: number; headers: Record<string, string>; body: unknown } | null;
    fault?: string;
    violations?: string[];
  }>;
}

export interface CoverageItem {
  name: string;
  description: string | null;
  count: number;
}

/** What the requests so far exercised (`GET /_mock/coverage`). */
export interface Coverage {
  object: 'mock.coverage';
  requests: number;
  unrouted: number;
  operations: Array<{
    operation: string;
    method: string;
    path: string;
    requests: number;
    outcomes: CoverageItem[];
    parameters: CoverageItem[];
  }>;
  never_exercised: string[];
}
