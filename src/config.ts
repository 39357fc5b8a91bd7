import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import convict from 'convict';
import { checkFileKeys, checkNumericEnv, ConfigError, readConfigFile } from './config-files';
import { parseHistoryRules, validateHistoryRules, type HistoryRule } from './broker/history-rules';
import { REDIS_MODES, splitNodeList, validateNodeList, type RedisMode } from './broker/redis/redis-addressing';
import { parseAddressRule } from './net/ip-address';
import { checkTlsFiles, readableFile } from './tls-files';

/**
 * The one configuration schema. Every knob has a doc string, a default, an
 * environment variable and a validator. Precedence (lowest first): defaults,
 * config/default.json, config/<NODE_ENV>.json, the file named by HERALD_CONFIG,
 * environment variables.
 */

/** NODE_ENV names a file in config/, so it may not hold a path. */
const ENV_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ENV_NAME_RULE = 'must be a name of 1 to 64 letters, digits, - and _ (it names config/<env>.json)';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** An IP literal in 127.0.0.0/8 or ::1 (any spelling, IPv4-mapped too), or "localhost"; never a name that merely starts with "127.". */
function isLoopback(host: string): boolean {
  const family = net.isIP(host);
  if (family === 0) return host === 'localhost';
  return LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
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

// Redis nodes come as a list in config files and as "host:port,host:port" in HERALD_REDIS_NODES.
convict.addFormat({ name: 'redis-nodes', coerce: splitNodeList, validate: validateNodeList });
// Trusted proxies come as a list in config files and as "10.0.0.0/8,2001:db8::1" in HERALD_TRUSTED_PROXIES.
convict.addFormat({
  name: 'address-list',
  coerce: (value: unknown) => (typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value),
  validate(value: unknown) {
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new Error('must be a list of addresses or CIDR blocks');
    for (const spec of value as string[]) parseAddressRule(spec);
  },
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
    doc: 'Deployment environment; loads config/<env>.json over config/default.json when that file exists (production and test ship with herald; add e.g. config/staging.json). Without the file herald says so at start and runs on default.json; "development" has no file of its own.',
    format: (value: unknown) => {
      if (typeof value !== 'string' || !ENV_NAME.test(value)) throw new Error(ENV_NAME_RULE);
    },
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
  quietCollectSeconds: {
    doc: 'A worker whose connections have neither opened nor closed for this many seconds, and which since it last collected saw 1,000 or more connections open or close or its V8 heap grow by 4 MB or more, runs two full garbage collections back to back (the second gives back the pages the first emptied; about 6 to 9 ms each for a 3 to 22 MB heap on the test machine), so that memory churned connections left behind goes back to the system instead of waiting for V8\'s next major collection. 0 turns it off. Workers get --expose-gc for it.',
    format: intRange(0, 86_400),
    default: 30,
    env: 'HERALD_QUIET_COLLECT_SECONDS',
  },
  broker: {
    doc: 'Fan-out broker: "local" relays publishes through the primary (single host, no Redis); "redis" uses Redis pub/sub so several heralds share one stream.',
    format: oneOf(['local', 'redis']),
    default: 'local' as 'local' | 'redis',
    env: 'HERALD_BROKER',
  },
  redis: {
    mode: {
      doc: 'How herald finds Redis: "standalone" (one server at redis.url), "sentinel" (the master that the sentinels in redis.nodes name redis.sentinelName; follows failovers), "cluster" (a Redis Cluster reached through the seed nodes in redis.nodes; sharded pub/sub).',
      format: oneOf(REDIS_MODES),
      default: 'standalone' as RedisMode,
      env: 'HERALD_REDIS_MODE',
    },
    url: {
      doc: 'Standalone mode: the Redis URL (redis://[[user]:password@]host:port[/db]; rediss:// for TLS).',
      format: (value: unknown) => {
        if (typeof value !== 'string' || !/^rediss?:\/\/[^\s]+$/.test(value)) {
          throw new Error('must be a redis:// or rediss:// URL');
        }
      },
      default: DEFAULT_REDIS_URL,
      env: 'HERALD_REDIS_URL',
      sensitive: true,
    },
    nodes: {
      doc: 'Sentinel mode: the sentinels; cluster mode: seed nodes (any few of the cluster; the rest are discovered). Comma-separated host:port.',
      format: 'redis-nodes',
      default: [] as string[],
      env: 'HERALD_REDIS_NODES',
    },
    sentinelName: {
      doc: 'Sentinel mode: the master name the sentinels monitor (their "sentinel monitor <name> ...").',
      format: (value: unknown) => {
        if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{0,64}$/.test(value)) throw new Error('must be at most 64 characters of [A-Za-z0-9_.-]');
      },
      default: '',
      env: 'HERALD_REDIS_SENTINEL_NAME',
    },
    username: {
      doc: 'Redis ACL user (AUTH <username> <password>); empty: the default user. In standalone mode it may be in redis.url instead.',
      format: String,
      default: '',
      env: 'HERALD_REDIS_USERNAME',
      sensitive: true,
    },
    password: {
      doc: 'Redis password (requirepass, or the ACL user\'s); empty: none. In standalone mode it may be in redis.url instead.',
      format: String,
      default: '',
      env: 'HERALD_REDIS_PASSWORD',
      sensitive: true,
    },
    sentinelPassword: {
      doc: 'Sentinel mode: the password of the sentinels themselves (their requirepass); empty: none.',
      format: String,
      default: '',
      env: 'HERALD_REDIS_SENTINEL_PASSWORD',
      sensitive: true,
    },
    tls: {
      doc: 'Sentinel and cluster modes: connect to every Redis node (and the sentinels) over TLS. Standalone mode takes TLS from a rediss:// URL instead.',
      format: 'strict-boolean',
      default: false,
      env: 'HERALD_REDIS_TLS',
    },
    tlsCaFile: {
      doc: 'PEM file of the CA(s) that signed the Redis servers\' certificates (for a private CA); empty: the system\'s trusted CAs. Needs TLS on.',
      format: String,
      default: '',
      env: 'HERALD_REDIS_TLS_CA_FILE',
    },
    prefix: {
      doc: 'Prefix of herald\'s Redis channels and keys: PUBLISH <prefix><topic> <payload> reaches subscribers of <topic>. Characters of [A-Za-z0-9_.:-] only (it is spliced into a Lua script and must never hold the braces of a cluster hash tag).',
      format: (value: unknown) => {
        if (typeof value !== 'string' || !/^[A-Za-z0-9_.:-]{0,64}$/.test(value)) {
          throw new Error('must be at most 64 characters of [A-Za-z0-9_.:-]');
        }
      },
      default: 'herald:',
      env: 'HERALD_REDIS_PREFIX',
    },
    commandTimeoutMs: {
      doc: 'How long herald waits for Redis to answer a command (publish, history append, the PING sent every second) before taking it as failed: POST /publish then answers 503 and /health reports the broker unresponsive.',
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
    eventsPerSecond: {
      doc: 'At debug level, the most lines per second each worker writes for each kind of traffic event (connect, refuse, close, message, publish); past it, events are counted and one line per second says how many were left out. At trace level every event is written.',
      format: intRange(1, 1_000_000),
      default: 20,
      env: 'HERALD_LOG_EVENTS_PER_SECOND',
    },
    summaryIntervalSeconds: {
      doc: 'Every this many seconds each worker logs one info line summing up its traffic (connections, upgrades, refusals by reason, closes by code, messages in and out); a worker with nothing new stays quiet. 0 disables.',
      format: intRange(0, 86_400),
      default: 60,
      env: 'HERALD_LOG_SUMMARY_INTERVAL',
    },
  },
  tls: {
    certFile: {
      doc: 'PEM certificate (followed by its intermediate certificates) for wss://. With tls.keyFile, the workers serve TLS themselves. Read by each worker when it starts, so a rolling restart (SIGHUP) serves a renewed certificate. Empty: plain ws://.',
      format: readableFile,
      default: '',
      env: 'HERALD_TLS_CERT_FILE',
    },
    keyFile: {
      doc: 'PEM private key of tls.certFile (encrypted keys need tls.passphrase).',
      format: readableFile,
      default: '',
      env: 'HERALD_TLS_KEY_FILE',
    },
    caFile: {
      doc: 'PEM CA certificates for client certificates: clients are asked for one, and a client that presents a certificate not signed by these CAs is refused at the handshake (clients without one are still accepted). Empty: no client certificates are asked for.',
      format: readableFile,
      default: '',
      env: 'HERALD_TLS_CA_FILE',
    },
    passphrase: {
      doc: 'Passphrase of an encrypted tls.keyFile.',
      format: String,
      default: '',
      env: 'HERALD_TLS_PASSPHRASE',
      sensitive: true,
    },
  },
  proxies: {
    trusted: {
      doc: 'Load balancers and proxies whose word about the client\'s address is believed (addresses or CIDR blocks, IPv4 or IPv6): from these peers, X-Forwarded-For (and the PROXY header with proxies.proxyProtocol) gives the address that per-IP limits and logs use. From any other peer both are ignored. Env form: "10.0.0.0/8,2001:db8::7".',
      format: 'address-list',
      default: [] as string[],
      env: 'HERALD_TRUSTED_PROXIES',
    },
    proxyProtocol: {
      doc: 'The trusted proxies send a PROXY protocol v2 header before each connection (HAProxy send-proxy-v2, AWS NLB); an upgrade from a trusted proxy without one is refused (400). v1 headers are not understood (see the README). Needs proxies.trusted and plain ws:// (the header would come before the TLS handshake).',
      format: 'strict-boolean',
      default: false,
      env: 'HERALD_PROXY_PROTOCOL',
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
  readonly [K in keyof S]: S[K] extends { default: infer D } ? (D extends 'local' | 'redis' | 'skip' | 'close' | RedisMode ? D : Widen<D>) : ValuesOf<S[K]>;
};

export type HeraldConfig = ValuesOf<typeof schema>;

export { ConfigError };

/** Folder holding default.json and one file per NODE_ENV (production.json, test.json, ...). */
export const CONFIG_DIR = path.resolve(__dirname, '..', '..', 'config');

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** How the redis.* keys fit together: each mode's keys, and nothing set that the mode would ignore. */
function crossCheckRedis({ redis }: HeraldConfig): void {
  const { mode } = redis;
  if (mode === 'standalone') {
    if (redis.nodes.length > 0) throw new ConfigError('redis.nodes: used only in sentinel and cluster modes: set redis.mode (HERALD_REDIS_MODE), or use redis.url');
    if (redis.tls && !redis.url.startsWith('rediss://')) throw new ConfigError('redis.tls: in standalone mode TLS comes from the URL: use a rediss:// redis.url');
    const credentials = /^rediss?:\/\/[^/@]*@/.test(redis.url);
    if (credentials && (redis.username !== '' || redis.password !== '')) {
      throw new ConfigError('redis.password: the credentials are already in redis.url: set them in one place');
    }
  } else {
    if (redis.nodes.length === 0) {
      throw new ConfigError(`redis.nodes: ${mode} mode needs ${mode === 'sentinel' ? 'the sentinels' : 'one or more seed nodes'} as host:port,host:port (HERALD_REDIS_NODES)`);
    }
    if (redis.url !== DEFAULT_REDIS_URL) throw new ConfigError(`redis.url: used only in standalone mode; in ${mode} mode list the nodes in redis.nodes`);
  }
  if (mode === 'sentinel' && redis.sentinelName === '') throw new ConfigError('redis.sentinelName: sentinel mode needs the master name the sentinels monitor (HERALD_REDIS_SENTINEL_NAME)');
  if (mode !== 'sentinel' && redis.sentinelName !== '') throw new ConfigError('redis.sentinelName: used only in sentinel mode: set redis.mode to sentinel');
  if (mode !== 'sentinel' && redis.sentinelPassword !== '') throw new ConfigError('redis.sentinelPassword: used only in sentinel mode: set redis.mode to sentinel');
  if (redis.username !== '' && redis.password === '') throw new ConfigError('redis.username: an ACL user needs redis.password too');
  if (redis.tlsCaFile !== '') {
    const tlsOn = redis.tls || redis.url.startsWith('rediss://');
    if (!tlsOn) throw new ConfigError('redis.tlsCaFile: TLS is off: set redis.tls (sentinel, cluster) or use a rediss:// redis.url (standalone)');
    try {
      fs.accessSync(redis.tlsCaFile, fs.constants.R_OK);
    } catch {
      throw new ConfigError(`redis.tlsCaFile: cannot read ${redis.tlsCaFile}`);
    }
  }
}

/** Rules that span several keys, which convict's per-key validators cannot see. */
function crossCheck(config: HeraldConfig): void {
  crossCheckRedis(config);
  if (config.broker === 'redis' && config.redis.mode === 'cluster' && config.presence.topics.length > 0) {
    // The per-herald presence hashes and their heartbeat set are written together; on a cluster they would span slots.
    throw new ConfigError('presence.topics: presence counts are shared through Redis, which herald does not support on a Redis Cluster yet (redis.mode "cluster"); use standalone or Sentinel mode, or leave presence.topics empty');
  }
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
  if (config.proxies.proxyProtocol && config.proxies.trusted.length === 0) {
    throw new ConfigError('proxies.proxyProtocol: needs proxies.trusted (HERALD_TRUSTED_PROXIES): the addresses of the proxies that send the header');
  }
  if (config.proxies.proxyProtocol && config.tls.certFile) {
    throw new ConfigError(
      'proxies.proxyProtocol: cannot be used with tls.certFile: a proxy sends the PROXY header before the TLS handshake, and uWebSockets.js reads it only inside TLS. Terminate TLS at the proxy, or pass TLS through without the PROXY protocol',
    );
  }
  checkTlsFiles(config.tls);
}

/** Where a configuration comes from, lowest precedence first (environment variables override them all). */
export interface ConfigSources {
  env: string;
  files: string[];
  /** config/<env>.json when NODE_ENV names a file that does not exist */
  missing?: string;
}

/** The environment name (validated: it becomes a file name) and the files it selects. */
export function configSources(env: NodeJS.ProcessEnv = process.env): ConfigSources {
  const name = env.NODE_ENV || 'development';
  if (!ENV_NAME.test(name)) {
    throw new ConfigError(`env: NODE_ENV ${ENV_NAME_RULE}: value was ${JSON.stringify(name)}`);
  }
  const files = [path.join(CONFIG_DIR, 'default.json')];
  const envFile = path.join(CONFIG_DIR, `${name}.json`);
  const found = fs.existsSync(envFile);
  if (found) files.push(envFile);
  // "development" is the default and default.json is its configuration: no file of its own is expected.
  const missing = found || name === 'development' ? undefined : envFile;
  if (env.HERALD_CONFIG) {
    if (!fs.existsSync(env.HERALD_CONFIG)) throw new ConfigError(`HERALD_CONFIG: file not found: ${env.HERALD_CONFIG}`);
    files.push(env.HERALD_CONFIG);
  }
  return { env: name, files, missing };
}

/** One line saying which files a configuration came from, e.g. for NODE_ENV=staging without config/staging.json. */
export function describeSources(sources: ConfigSources): string {
  const missing = sources.missing ? `no ${shortPath(sources.missing)} for NODE_ENV=${sources.env}, ` : '';
  return `configuration: ${missing}loaded ${sources.files.map(shortPath).join(', ')} and environment variables`;
}

/** A path as a person at this shell would type it. */
export function shortPath(file: string): string {
  return path.relative(process.cwd(), file) || file;
}

const SCHEMA_ROWS = describeSchema();
const SCHEMA_TYPES = new Map(SCHEMA_ROWS.map((r) => [r.key, typeof r.default]));
const NUMERIC_ENV = SCHEMA_ROWS.filter((r) => typeof r.default === 'number');
const noticesGiven = new Set<string>();

export interface LoadOptions {
  /**
   * Told when NODE_ENV names no file in config/ (so the fallback is never silent). Default: one line on
   * stderr, once per process. Gateway workers pass a no-op: their primary has said it.
   */
  notice?: (message: string) => void;
}

function stderrNotice(message: string): void {
  if (noticesGiven.has(message)) return;
  noticesGiven.add(message);
  process.stderr.write(`herald: ${message}\n`);
}

/**
 * Loads and validates the configuration. Throws ConfigError naming the key and
 * the reason on any invalid value or unknown key, and the file (with line and
 * column) for a file that is unreadable or not JSON.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): HeraldConfig {
  try {
    const sources = configSources(env);
    checkNumericEnv(env, NUMERIC_ENV);
    // An empty NODE_ENV (e.g. "Environment=NODE_ENV=" in a unit) means the default, as configSources reads it.
    const c = convict(schema, { env: env.NODE_ENV === '' ? { ...env, NODE_ENV: undefined } : env, args: [] });
    for (const file of sources.files) {
      const values = readConfigFile(file);
      checkFileKeys(file, values, SCHEMA_TYPES);
      c.load(values);
    }
    c.validate({ allowed: 'strict' });
    const config = c.getProperties() as unknown as HeraldConfig;
    crossCheck(config);
    if (sources.missing) (options.notice ?? stderrNotice)(describeSources(sources));
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
