import net from 'node:net';

/**
 * Resolves when no other process listens on host:port. The gateway workers listen with
 * SO_REUSEPORT, which would let them join another herald's (or anything's) port without an
 * error and have the kernel split new clients between the two. A plain listen, without
 * SO_REUSEPORT, fails with EADDRINUSE whenever any socket listens there; the primary
 * probes once before its first workers start (respawns and rolling restarts share the port).
 */
export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is already served by another process (another herald?)' : err.message;
      reject(new Error(`cannot listen on ${host}:${port}: ${why}`));
    });
    probe.listen({ host, port }, () => probe.close(() => resolve()));
  });
}
