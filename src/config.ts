import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { parseHistoryRules, validateHistoryRules, type HistoryRule } from './broker/history-rules';

/**
 * The one configuration schema. Every knob has a doc string, a default, an
 * environment variable and a validator. Precedence (lowest first): defaults,
 * config/default.json, config/<NODE_ENV>.json, the file named by HERALD_CONFIG,
 * environment variables.
 */

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

function oneOf(values: readonly string[]) {
  return (value: unknown) => {
    if (!values.includes(value as string)) throw new Error(`must be one of ${values.join(', ')}`);
  };
}

function intRange(min: number, max: number, extra?: (v: number) => string | undefined) {
  return (value: unknown) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`must be an integer from ${min} to ${max}`);
    }
    const problem = extra?.(value);
    if (problem) throw new Error(problem);
  };
}

// convict's own Boolean turns any unknown string into true; a typo must fail instead.
convict.addFormat({
  name: 'strict-boolean',
  coerce: (value: unknown) => (value === 'true' ? true : value === 'false' ? false : value),
  validate(value: unknown) {
    if (typeof value !== 'boolean') throw new Error('must be true or false');
  },
});

// History rules come as a list in config files and as "pattern=maxLength/maxAgeSeconds,..." in HERALD_HISTORY.
convict.addFormat({
  name: 'history-rules',
  coerce: (value: unknown) => (typeof value === 'string' ? parseHistoryRules(value) : value),
  validate: validateHistoryRules,
});

// Topic patterns come as a list in config files and comma-separated in the environment.
convict.addFormat({
  name: 'topic-patterns',
  coerce: (value: unknown) => (typeof value === 'string' ? value.split(',').map((p) => p.trim()).filter((p) => p !== '') : value),
  validate(value: unknown) {
    if (!Array.isArray(value)) throw new Error('must be a list of topic names or prefixes ending in *');
    const bad = value.find((p) => typeof p !== 'string' || !/^[A-Za-z0-9_.:-]{0,128}\*?$/.test(p) || p === '');
    if (bad !== undefined) throw new Error(`"${String(bad)}" must be a topic name or a prefix ending in * ([A-Za-z0-9_.:-])`);
  },
});

const schema = {
  env: {
    doc: 'Deployment environment; selects config/<env>.json.',
    format: oneOf(['development', 'production', 'test']),
    default: 'development',
    env: 'NODE_ENV',
  },
  host: {
    doc: 'Address the WebSocket workers listen on.',
    format: String,
    default: '0.0.0.0',
    env: 'HERALD_HOST',
  },
  port: {
    doc: 'Port the WebSocket workers share (SO_REUSEPORT). Clients connect to ws://HOST:PORT/ws.',
    format: 'port',
    default: 8080,
    env: 'HERALD_PORT',
  },
  workers: {
    doc: 'Number of gateway worker processes; 0 means one per CPU core. Raise it past the core count to get past a per-process open-file limit.',
    format: intRange(0, 1024),
    default: 0,
    env: 'HERALD_WORKERS',
  },
  workerNodeOptions: {
    doc: 'Node.js/V8 flags for each gateway worker, space separated (added after the primary\'s own flags). The default keeps the young generation small: with 50+ workers on a box, each worker\'s baseline memory counts as much as its connections. Example: "--max-semi-space-size=1 --max-old-space-size=256".',
    format: (value: unknown) => {
      if (typeof value !== 'string') throw new Error('must be a string of flags');
      const bad = value.split(' ').filter(Boolean).find((f) => !/^--[a-z0-9][a-z0-9_-]*(=[^\s]+)?$/i.test(f));
      if (bad !== undefined) throw new Error(`"${bad}" is not a --flag or --flag=value`);
    },
    default: '--max-semi-space-size=1',
    env: 'HERALD_WORKER_NODE_OPTIONS',
  },
  broker: {
    doc: 'Fan-out broker: "local" relays publishes through the primary (single host, no Redis); "redis" uses Redis pub/sub so several heralds share one stream.',
    format: oneOf(['local', 'redis']),
    default: 'local' as 'local' | 'redis',
    env: 'HERALD_BROKER',
  },
  redis: {
    url: {
      doc: 'Redis URL used by the redis broker (redis://[:password@]host:port[/db]).',
      format: (value: unknown) => {
        if (typeof value !== 'string' || !/^rediss?:\/\/[^\s]+$/.test(value)) {
          throw new Error('must be a redis:// or rediss:// URL');
        }
      },
      default: 'redis://127.0.0.1:6379',
      env: 'HERALD_REDIS_URL',
      sensitive: true,
    },
    prefix: {
      doc: 'Prefix of the Redis pub/sub channels: PUBLISH <prefix><topic> <payload> reaches subscribers of <topic>.',
      format: (value: unknown) => {
        if (typeof value !== 'string' || value.length > 64 || /[\s*?[\]]/.test(value)) {
          throw new Error('must be a string of at most 64 characters without spaces or glob characters');
        }
      },
      default: 'herald:',
      env: 'HERALD_REDIS_PREFIX',
    },
    commandTimeoutMs: {
      doc: 'A Redis command not answered within this time fails: POST /publish answers 503 and the broker counts as stalled (unhealthy) until Redis answers again. Also the time a stalled Redis takes to be noticed (plus up to 1 s).',
      format: intRange(100, 60_000),
      default: 2000,
      env: 'HERALD_REDIS_COMMAND_TIMEOUT_MS',
    },
  },
  admin: {
    host: {
      doc: 'Address of the admin HTTP server (publish, health, stats). A non-loopback address requires admin.apiKey.',
      format: String,
      default: '127.0.0.1',
      env: 'HERALD_ADMIN_HOST',
    },
    port: {
      doc: 'Port of the admin HTTP server in the primary process.',
      format: 'port',
      default: 9090,
      env: 'HERALD_ADMIN_PORT',
    },
    apiKey: {
      doc: 'When set, POST /publish, /subscribe, /unsubscribe, /disconnect and GET /presence require "Authorization: Bearer <apiKey>".',
      format: String,
      default: '',
      env: 'HERALD_API_KEY',
      sensitive: true,
    },
    maxPublishBytes: {
      doc: 'Largest payload accepted by POST /publish, in bytes.',
      format: intRange(1, 64 * 1024 * 1024),
      default: 1024 * 1024,
      env: 'HERALD_MAX_PUBLISH_BYTES',
    },
  },
  log: {
    level: {
      doc: 'Log level (pino).',
      format: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
      default: 'info',
      env: 'HERALD_LOG_LEVEL',
    },
  },
  topics: {
    maxPerConnection: {
      doc: 'Most topics a client may request in ?topics= (the implicit "broadcast" is not counted).',
      format: intRange(0, 1024),
      default: 32,
      env: 'HERALD_MAX_TOPICS',
    },
  },
  clientFrames: {
    maxBytes: {
      doc: 'Largest frame a client may send; a larger one closes the connection (close code 1009). Clients are expected to be silent.',
      format: intRange(16, 16 * 1024 * 1024),
      default: 1024,
      env: 'HERALD_MAX_CLIENT_FRAME_BYTES',
    },
    maxPerWindow: {
      doc: 'Most messages a client may send per clientFrames.windowSeconds; exceeding it closes the connection (close code 4400).',
      format: intRange(1, 1_000_000),
      default: 20,
      env: 'HERALD_MAX_CLIENT_MESSAGES',
    },
    windowSeconds: {
      doc: 'Length of the client message rate window, in seconds.',
      format: intRange(1, 3600),
      default: 10,
      env: 'HERALD_CLIENT_MESSAGE_WINDOW',
    },
  },
  commands: {
    enabled: {
      doc: 'Let envelope connections (?format=envelope) send commands: subscribe, unsubscribe, refresh. Off: their frames are ignored like raw connections\' (and count toward clientFrames.maxPerWindow). Raw connections never parse frames either way.',
      format: 'strict-boolean',
      default: true,
      env: 'HERALD_COMMANDS',
    },
    maxBytes: {
      doc: 'Largest frame an envelope connection may send when commands are on (a refresh command carries a JWT); a larger one closes it with 1009. Raw connections keep clientFrames.maxBytes.',
      format: intRange(64, 65_536),
      default: 8192,
      env: 'HERALD_MAX_COMMAND_BYTES',
    },
    burst: {
      doc: 'Commands a connection may send at once (token bucket size): enough to subscribe to topics.maxPerConnection topics and refresh right after a reconnect. Past it each command is answered rate_limited and counts toward clientFrames.maxPerWindow (then close code 4400).',
      format: intRange(1, 100_000),
      default: 64,
      env: 'HERALD_COMMAND_BURST',
    },
    perSecond: {
      doc: 'Rate at which a connection\'s command budget refills, in commands per second.',
      format: intRange(1, 100_000),
      default: 5,
      env: 'HERALD_COMMANDS_PER_SECOND',
    },
  },
  presence: {
    topics: {
      doc: 'Topics whose connections and distinct users are counted across workers and heralds (GET /presence): names or prefixes ending in *, e.g. "room:*,lobby". Each tracked (topic, user) costs about 100 bytes in the worker and in the primary; other topics cost nothing. Empty: presence off.',
      format: 'topic-patterns',
      default: [] as string[],
      env: 'HERALD_PRESENCE_TOPICS',
    },
    push: {
      doc: 'Push {"type":"presence","topic":...,"connections":n,"users":m} to envelope subscribers of a tracked topic when its counts change, at most once per presence.flushMs per herald.',
      format: 'strict-boolean',
      default: false,
      env: 'HERALD_PRESENCE_PUSH',
    },
    flushMs: {
      doc: 'Presence changes are batched: workers report them to the primary, and the primary writes them to Redis, at most once per this many milliseconds (nothing is sent while nothing changes).',
      format: intRange(50, 60_000),
      default: 1000,
      env: 'HERALD_PRESENCE_FLUSH_MS',
    },
    instanceTtlSeconds: {
      doc: 'Redis broker: a herald\'s presence counts stop counting this long after its last heartbeat (sent every third of it), so a dead herald\'s connections leave the totals.',
      format: intRange(3, 3600),
      default: 15,
      env: 'HERALD_PRESENCE_INSTANCE_TTL',
    },
  },
  liveness: {
    idleTimeoutSeconds: {
      doc: 'A connection with no traffic for this long is closed; with sendPings the server pings before that. 0 disables. uWS needs a multiple of 4 (at least 8).',
      format: intRange(0, 960, (v) => (v !== 0 && (v < 8 || v % 4 !== 0) ? 'must be 0 or a multiple of 4 of at least 8' : undefined)),
      default: 120,
      env: 'HERALD_IDLE_TIMEOUT',
    },
    sendPings: {
      doc: 'Send WebSocket pings automatically so idle but live clients are kept and dead peers are reaped.',
      format: 'strict-boolean',
      default: true,
      env: 'HERALD_SEND_PINGS',
    },
  },
  slowConsumer: {
    maxBufferedBytes: {
      doc: 'Per-connection send buffer limit. Past it the slowConsumer.policy applies.',
      format: intRange(1024, 1024 * 1024 * 1024),
      default: 256 * 1024,
      env: 'HERALD_MAX_BUFFERED_BYTES',
    },
    policy: {
      doc: '"skip": messages for a connection over the limit are dropped until it catches up; "close": it is closed with code 4002 so it can reconnect (and recover).',
      format: oneOf(['skip', 'close']),
      default: 'close' as 'skip' | 'close',
      env: 'HERALD_SLOW_CONSUMER_POLICY',
    },
  },
  capacity: {
    maxConnectionsPerWorker: {
      doc: 'Cap on WebSocket connections per worker; 0 derives it from the open-file limit minus capacity.fdReserve.',
      format: intRange(0, 10_000_000),
      default: 0,
      env: 'HERALD_MAX_CONNECTIONS_PER_WORKER',
    },
    fdReserve: {
      doc: 'File descriptors each worker keeps free (for Redis, logs and in-flight handshakes); upgrades past the limit get HTTP 503.',
      format: intRange(16, 100_000),
      default: 256,
      env: 'HERALD_FD_RESERVE',
    },
    targetConnections: {
      doc: 'Connections this box is meant to hold; start-up checks kernel limits against it and prints the lines to fix them.',
      format: intRange(1, 100_000_000),
      default: 1_000_000,
      env: 'HERALD_TARGET_CONNECTIONS',
    },
  },
  clock: {
    intervalSeconds: {
      doc: 'Publish the server time to clock.topic every N seconds (the C1M article used 60). 0 disables.',
      format: intRange(0, 86_400),
      default: 0,
      env: 'HERALD_CLOCK_INTERVAL',
    },
    topic: {
      doc: 'Topic the clock publisher publishes to.',
      format: String,
      default: 'broadcast',
      env: 'HERALD_CLOCK_TOPIC',
    },
  },
  history: {
    rules: {
      doc: 'Topics that get seqs and a bounded history for recovery (?since=), with their limits; first match wins, * is a wildcard. Env form: "broadcast=1000/300,user:*=100/60" (pattern=maxLength/maxAgeSeconds). Empty: no history, live delivery only. With the local broker, history is kept in the primary\'s memory.',
      format: 'history-rules',
      default: [] as HistoryRule[],
      env: 'HERALD_HISTORY',
    },
    readCacheMs: {
      doc: 'How long a worker reuses one history read for every connection recovering the same topic from the same seq (reconnect storms cost one Redis read).',
      format: intRange(1, 60_000),
      default: 2000,
      env: 'HERALD_HISTORY_READ_CACHE_MS',
    },
  },
  shutdown: {
    timeoutSeconds: {
      doc: 'How long the primary waits for workers to drain and exit on SIGTERM/SIGINT before killing them.',
      format: intRange(1, 3600),
      default: 30,
      env: 'HERALD_SHUTDOWN_TIMEOUT',
    },
    closeRatePerSecond: {
      doc: 'Connections each worker closes per second while draining (close code 1001), so clients do not all reconnect at once.',
      format: intRange(1, 10_000_000),
      default: 20_000,
      env: 'HERALD_DRAIN_RATE',
    },
    drainWindowSeconds: {
      doc: 'On SIGTERM/SIGINT, spread each worker\'s closes over this many seconds (still at most shutdown.closeRatePerSecond); 0 closes as fast as that rate allows.',
      format: intRange(0, 3600),
      default: 0,
      env: 'HERALD_DRAIN_WINDOW',
    },
  },
  auth: {
    enabled: {
      doc: 'Require a JWT on every upgrade (in ?token= or Sec-WebSocket-Protocol). Off: anyone may connect, as in the core contract.',
      format: 'strict-boolean',
      default: false,
      env: 'HERALD_AUTH',
    },
    hmacSecret: {
      doc: 'Shared secret for HS256 tokens; empty disables HS256.',
      format: String,
      default: '',
      env: 'HERALD_AUTH_HMAC_SECRET',
      sensitive: true,
    },
    publicKeyFile: {
      doc: 'PEM file (SPKI public key) for RS256 or ES256 tokens; empty disables it.',
      format: String,
      default: '',
      env: 'HERALD_AUTH_PUBLIC_KEY_FILE',
    },
    jwksFile: {
      doc: 'Local JWKS file (JSON {"keys":[...]}) for RS256/ES256 tokens, key chosen by the token\'s kid; empty disables it.',
      format: String,
      default: '',
      env: 'HERALD_AUTH_JWKS_FILE',
    },
    issuer: {
      doc: 'When set, tokens must carry this iss claim.',
      format: String,
      default: '',
      env: 'HERALD_AUTH_ISSUER',
    },
    audience: {
      doc: 'When set, tokens must carry this aud claim.',
      format: String,
      default: '',
      env: 'HERALD_AUTH_AUDIENCE',
    },
    clockToleranceSeconds: {
      doc: 'Leeway for exp and nbf checks at upgrade, for clock skew between the token issuer and herald.',
      format: intRange(0, 3600),
      default: 5,
      env: 'HERALD_AUTH_CLOCK_TOLERANCE',
    },
    expiry: {
      doc: '"enforce": a connection is closed (close code 4501) when its token\'s exp passes; "ignore": exp is only checked at upgrade.',
      format: oneOf(['enforce', 'ignore']),
      default: 'enforce',
      env: 'HERALD_AUTH_EXPIRY',
    },
  },
  limits: {
    perIp: {
      maxConnections: {
        doc: 'Most concurrent connections one source IP may hold on one worker process; more get HTTP 429. 0 disables.',
        format: intRange(0, 10_000_000),
        default: 0,
        env: 'HERALD_PER_IP_MAX_CONNECTIONS',
      },
      upgradesPerSecond: {
        doc: 'Most upgrades per second one source IP may make to one worker process (token bucket, burst of the same size); more get HTTP 429. 0 disables.',
        format: intRange(0, 10_000_000),
        default: 0,
        env: 'HERALD_PER_IP_UPGRADES_PER_SECOND',
      },
    },
  },
  restart: {
    drainWindowSeconds: {
      doc: 'Rolling restart (SIGHUP/SIGUSR2): each replaced worker closes its clients with code 4000 spread over this many seconds (never faster than shutdown.closeRatePerSecond).',
      format: intRange(0, 3600),
      default: 10,
      env: 'HERALD_RESTART_DRAIN_WINDOW',
    },
    readyTimeoutSeconds: {
      doc: 'Rolling restart: how long a new worker may take to listen before the roll is abandoned (old workers keep serving).',
      format: intRange(1, 600),
      default: 30,
      env: 'HERALD_RESTART_READY_TIMEOUT',
    },
  },
  respawn: {
    minDelayMs: {
      doc: 'Delay before respawning a crashed worker; doubles for each crash in a row.',
      format: intRange(0, 600_000),
      default: 200,
      env: 'HERALD_RESPAWN_MIN_DELAY_MS',
    },
    maxDelayMs: {
      doc: 'Longest delay between respawns of a crashing worker.',
      format: intRange(0, 3_600_000),
      default: 30_000,
      env: 'HERALD_RESPAWN_MAX_DELAY_MS',
    },
  },
};

type Widen<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T;
type ValuesOf<S> = {
  readonly [K in keyof S]: S[K] extends { default: infer D } ? (D extends 'local' | 'redis' | 'skip' | 'close' ? D : Widen<D>) : ValuesOf<S[K]>;
};

export type HeraldConfig = ValuesOf<typeof schema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Folder holding default.json, production.json, test.json. */
export const CONFIG_DIR = path.resolve(__dirname, '..', '..', 'config');

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Rules that span several keys, which convict's per-key validators cannot see. */
function crossCheck(config: HeraldConfig): void {
  if (!isLoopback(config.admin.host) && config.admin.apiKey === '') {
    throw new ConfigError(
      `admin.host: ${config.admin.host} is not a loopback address, so admin.apiKey (HERALD_API_KEY) must be set`,
    );
  }
  if (config.respawn.maxDelayMs < config.respawn.minDelayMs) {
    throw new ConfigError('respawn.maxDelayMs: must be at least respawn.minDelayMs');
  }
  if (config.auth.enabled && !config.auth.hmacSecret && !config.auth.publicKeyFile && !config.auth.jwksFile) {
    throw new ConfigError('auth.enabled: needs a key: set auth.hmacSecret, auth.publicKeyFile or auth.jwksFile');
  }
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(config.clock.topic)) {
    throw new ConfigError('clock.topic: must be 1 to 128 characters of [A-Za-z0-9_.:-]');
  }
}

/**
 * Loads and validates the configuration. Throws ConfigError naming the key and
 * the reason on any invalid value, unknown key or unreadable file.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): HeraldConfig {
  try {
    const c = convict(schema, { env, args: [] });
    const files = [
      path.join(CONFIG_DIR, 'default.json'),
      path.join(CONFIG_DIR, `${c.get('env')}.json`),
    ].filter((f) => fs.existsSync(f));
    if (env.HERALD_CONFIG) {
      if (!fs.existsSync(env.HERALD_CONFIG)) throw new ConfigError(`HERALD_CONFIG: file not found: ${env.HERALD_CONFIG}`);
      files.push(env.HERALD_CONFIG);
    }
    c.loadFile(files);
    c.validate({ allowed: 'strict' });
    const config = c.getProperties() as unknown as HeraldConfig;
    crossCheck(config);
    return deepFreeze(config);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError((err as Error).message.replace(/\s+/g, ' ').trim());
  }
}

/** For the README's reference table: every key with its doc, default and env var. */
export function describeSchema(): { key: string; env: string; default: unknown; doc: string }[] {
  const rows: { key: string; env: string; default: unknown; doc: string }[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(node)) {
      const entry = value as Record<string, unknown>;
      if ('doc' in entry && 'default' in entry) {
        rows.push({ key: prefix + name, env: String(entry.env ?? ''), default: entry.default, doc: String(entry.doc) });
      } else {
        walk(entry, `${prefix}${name}.`);
      }
    }
  };
  walk(schema, '');
  return rows;
}
