import fs from 'node:fs';
import net from 'node:net';

/** Ports below the kernel's ephemeral range, which no outgoing connection can take in the meantime. */
function quietRange(): [number, number] | undefined {
  const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  return low > 12_000 ? [10_000, low - 1] : undefined;
}

function tryListen(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    server.listen(port, host, () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port that was free a moment ago. It comes from below the ephemeral range when
 * there is room there: a port the kernel hands out for port 0 can be taken by any outgoing
 * connection on this busy box before the server that was meant to have it listens.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const range = quietRange();
  for (let attempt = 0; range && attempt < 50; attempt++) {
    const port = await tryListen(range[0] + Math.floor(Math.random() * (range[1] - range[0])), host);
    if (port !== undefined) return port;
  }
  return (await tryListen(0, host))!;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}
