import fs from 'node:fs';

/**
 * Start-up check of the kernel and process limits that cap how many
 * connections this box can hold, with the exact lines that lift each one.
 */

export interface LimitFinding {
  name: string;
  current: string;
  wanted: string;
  fix: string;
}

function readSysctl(name: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function checkKernelLimits(opts: { targetConnections: number; workers: number; nofileSoft: number; nofileHard: number }): LimitFinding[] {
  const findings: LimitFinding[] = [];
  const perWorker = Math.ceil(opts.targetConnections / opts.workers) + 1024;
  // Each connection is one descriptor in herald; loopback tests double it (client side too).
  const totalFiles = opts.targetConnections + opts.workers * 1024 + 100_000;

  const fileMax = Number(readSysctl('fs.file-max') ?? 0);
  if (fileMax && fileMax < totalFiles) {
    findings.push({ name: 'fs.file-max', current: String(fileMax), wanted: String(totalFiles), fix: `sysctl -w fs.file-max=${totalFiles}` });
  }
  const nrOpen = Number(readSysctl('fs.nr_open') ?? 0);
  if (nrOpen && nrOpen < perWorker) {
    findings.push({ name: 'fs.nr_open', current: String(nrOpen), wanted: String(perWorker), fix: `sysctl -w fs.nr_open=${perWorker}` });
  }
  if (opts.nofileSoft < perWorker) {
    const fix =
      opts.nofileHard >= perWorker
        ? `ulimit -n ${perWorker}   # the hard limit allows it; or raise HERALD_WORKERS to ${Math.ceil(opts.targetConnections / Math.max(1, opts.nofileSoft - 1024))}`
        : `echo '* soft nofile ${perWorker}' >> /etc/security/limits.conf; echo '* hard nofile ${perWorker}' >> /etc/security/limits.conf   # or LimitNOFILE=${perWorker} in the systemd unit; or raise HERALD_WORKERS to ${Math.ceil(opts.targetConnections / Math.max(1, opts.nofileSoft - 1024))}`;
    findings.push({ name: 'nofile (per process)', current: `${opts.nofileSoft}/${opts.nofileHard}`, wanted: String(perWorker), fix });
  }
  const somaxconn = Number(readSysctl('net.core.somaxconn') ?? 0);
  if (somaxconn && somaxconn < 4096) {
    findings.push({ name: 'net.core.somaxconn', current: String(somaxconn), wanted: '4096', fix: 'sysctl -w net.core.somaxconn=4096' });
  }
  const range = readSysctl('net.ipv4.ip_local_port_range')?.split(/\s+/).map(Number);
  if (range && range[1] - range[0] < 60_000) {
    // Matters for clients and proxies in front of herald: ports per (source, destination) pair.
    findings.push({
      name: 'net.ipv4.ip_local_port_range',
      current: range.join(' '),
      wanted: '1024 65535',
      fix: "sysctl -w net.ipv4.ip_local_port_range='1024 65535'   # for load clients and proxies dialling herald",
    });
  }
  return findings;
}
