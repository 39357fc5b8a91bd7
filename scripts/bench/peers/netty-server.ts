/**
 * Benchmark peer 3 launcher: K Netty JVMs (netty/HeraldPeer.java) on one port.
 *
 *   node dist/scripts/bench/peers/netty-server.js --port 9001 --redis redis://127.0.0.1:6379 --processes 4
 *
 * WebSocket path /ws. Compiles the peer first with netty/build.sh (which installs
 * Debian's libnetty-java if needed), then starts K JVMs that each bind the port
 * with SO_REUSEPORT and subscribe to Redis themselves.
 *
 * JVM flags (override all of them with NETTY_JAVA_OPTS):
 *   -Xms64m -Xmx768m         heap grows with connections (~19k per JVM at most
 *                            here); start small so idle RSS is not inflated
 *   -XX:+UseSerialGC         several JVMs share 2 cores: no parallel GC threads
 *                            fighting each other, and the smallest GC footprint
 *   -XX:MaxDirectMemorySize=256m   bound Netty's pooled direct buffers
 *   -Dio.netty.leakDetection.level=disabled   production setting; the default
 *                            samples 1% of buffers with stack traces
 *   -Djava.net.preferIPv4Stack=true   plain IPv4 sockets like the other peers
 *                            (not IPv6 sockets with v4-mapped addresses)
 * Event loop threads per JVM: NETTY_THREADS, default max(1, cores / K), since
 * several JVMs already spread the work over the cores.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ChildHandle, parsePeerArgs, supervise } from './common';

const DEFAULT_JAVA_OPTS = [
  '-Xms64m',
  '-Xmx768m',
  '-XX:+UseSerialGC',
  '-XX:MaxDirectMemorySize=256m',
  '-Dio.netty.leakDetection.level=disabled',
  '-Djava.net.preferIPv4Stack=true',
];

const opts = parsePeerArgs();
const redis = new URL(opts.redis);
const threads = Number(process.env.NETTY_THREADS ?? Math.max(1, Math.floor(os.cpus().length / opts.processes)));
const javaOpts = process.env.NETTY_JAVA_OPTS?.split(/\s+/).filter(Boolean) ?? DEFAULT_JAVA_OPTS;

// The TypeScript is compiled to dist/scripts/bench/peers/; the Java source and
// build script stay in the source tree.
const root = path.resolve(__dirname, '..', '..', '..', '..');
const buildScript = path.join(root, 'scripts', 'bench', 'peers', 'netty', 'build.sh');
const classpathFile = execFileSync('bash', [buildScript], { stdio: ['ignore', 'pipe', 'inherit'] })
  .toString()
  .trim();
const classpath = fs.readFileSync(classpathFile, 'utf8').trim();

function startJvm(): ChildHandle {
  const child = spawn(
    'java',
    [
      ...javaOpts,
      '-cp', classpath,
      'HeraldPeer',
      '--host', opts.host,
      '--port', String(opts.port),
      '--redis-host', redis.hostname,
      '--redis-port', redis.port || '6379',
      '--threads', String(threads),
    ],
    // stdin stays open as a lifeline: the JVM exits when it reads EOF.
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.trim() === 'READY') resolve();
      else process.stderr.write(`[netty ${child.pid}] ${line}\n`);
    });
    void exited.then((how) => reject(new Error(`JVM ${child.pid} exited before ready (${how})`)));
  });
  ready.catch(() => undefined);
  return { pid: child.pid!, ready, exited, kill: (sig) => void child.kill(sig) };
}

const children = Array.from({ length: opts.processes }, startJvm);
// This supervisor only waits; its memory is not the server's.
supervise({ peer: 'netty', opts, children, includeSelf: false });
