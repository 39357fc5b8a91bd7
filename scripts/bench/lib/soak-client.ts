/**
 * The soak benchmark's client process (forked by ../soak.ts, in its own process group).
 *
 * - Stayers connect first and stay for the whole run; every broadcast they get is marked
 *   in a bitmap, so that the lost ones can be counted at the end.
 * - Churners connect at a steady rate, each waits for a few broadcasts, then closes
 *   cleanly (1000) and is gone: the connection churn whose memory must not stay behind.
 *
 * Talks to the parent over IPC: `start` -> `stayers-ready`, then `churn` churns up to a count (the warm-up, then the rest),
 * `progress` comes every 5 s, and `stop` -> `done` with the totals and the accepted
 * broadcasts that stayers lack.
 */
import WebSocket from 'ws';

export interface SoakClientConfig {
  url: string;
  stayers: number;
  rate: number;
  /** broadcasts a churner waits for before closing */
  messages: number;
  /** handshakes in flight at most; the rate waits beyond it */
  maxPending: number;
  sourceIps: string[];
}

export interface ChurnCounts {
  opened: number;
  /** reached `messages` broadcasts and closed with 1000 */
  completed: number;
  /** refused at upgrade or failed to connect, by reason */
  failed: Record<string, number>;
  /** closed by the server before its broadcasts arrived, by close code */
  droppedEarly: Record<string, number>;
  open: number;
  pending: number;
}

export type FromClient =
  | { type: 'stayers-ready'; connected: number; failed: number }
  | { type: 'progress'; churn: ChurnCounts; stayersOpen: number }
  | { type: 'done'; churn: ChurnCounts; stayersOpen: number; stayerCloses: Record<string, number>; lost: Missing; lostInWindow: Missing };

/** Broadcasts some stayers did not get: copies missing in total, stayers missing any, the first seqs. */
export interface Missing {
  total: number;
  stayersMissing: number;
  seqs: number[];
}

/**
 * `windowSeqs`: broadcasts accepted while Redis had just come back, before every worker had
 * resubscribed; a miss there is documented behaviour and counted apart.
 */
export type ToClient = { type: 'start'; config: SoakClientConfig } | { type: 'churn'; upTo: number } | { type: 'stop'; acceptedSeqs: number[]; windowSeqs: number[] };

const MAX_SEQ = 1 << 20;
const BROADCAST = /^soak:(\d+)$/;

function send(msg: FromClient): void {
  if (process.connected) process.send!(msg);
}

const bump = (counts: Record<string, number>, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

function seqOf(data: WebSocket.RawData): number | undefined {
  const m = BROADCAST.exec(String(data));
  const seq = m ? Number(m[1]) : undefined;
  return seq !== undefined && seq < MAX_SEQ ? seq : undefined;
}

class Stayer {
  readonly seen = new Uint8Array(MAX_SEQ);
  open = false;
  closeCode?: number;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const seq = seqOf(data);
      if (seq !== undefined) this.seen[seq] = 1;
    });
    ws.on('close', (code) => {
      this.open = false;
      this.closeCode = code;
    });
    ws.on('error', () => {});
  }
}

function run(config: SoakClientConfig): void {
  let source = 0;
  const nextSource = () => config.sourceIps[source++ % config.sourceIps.length];
  const churn: ChurnCounts = { opened: 0, completed: 0, failed: {}, droppedEarly: {}, open: 0, pending: 0 };
  const stayers: Stayer[] = [];
  let stopping = false;

  const connectStayers = async () => {
    let failed = 0;
    for (let i = 0; i < config.stayers; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, config.stayers - i) }, () =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(config.url, { perMessageDeflate: false, localAddress: nextSource() });
            const stayer = new Stayer(ws);
            ws.once('open', () => {
              stayer.open = true;
              stayers.push(stayer);
              resolve();
            });
            ws.once('error', () => {
              failed++;
              resolve();
            });
          }),
        ),
      );
    }
    send({ type: 'stayers-ready', connected: stayers.length, failed });
  };

  const openChurner = () => {
    churn.opened++;
    churn.pending++;
    const ws = new WebSocket(config.url, { perMessageDeflate: false, localAddress: nextSource(), handshakeTimeout: 30_000 });
    let got = 0;
    let opened = false;
    ws.on('open', () => {
      opened = true;
      churn.pending--;
      churn.open++;
    });
    ws.on('unexpected-response', (_req, res) => {
      bump(churn.failed, `HTTP ${res.statusCode}`);
      res.resume();
      ws.terminate();
    });
    ws.on('message', (data) => {
      if (seqOf(data) === undefined || ++got !== config.messages) return;
      churn.completed++;
      ws.close(1000, 'soak churn');
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (!opened) bump(churn.failed, err.code ?? err.message.slice(0, 40));
    });
    ws.on('close', (code) => {
      if (!opened) {
        churn.pending--;
        return;
      }
      churn.open--;
      if (got < config.messages) bump(churn.droppedEarly, String(code));
    });
  };

  let churnTimer: NodeJS.Timeout | undefined;
  const progress = setInterval(() => send({ type: 'progress', churn, stayersOpen: stayers.filter((s) => s.open).length }), 5000);

  process.on('message', (msg: ToClient) => {
    if (msg.type === 'churn') {
      // Steady rate: every 10 ms, open what the schedule says is due, within the handshake budget, up to churned connection `upTo`.
      clearInterval(churnTimer);
      const started = Date.now(), from = churn.opened;
      churnTimer = setInterval(() => {
        if (stopping) return;
        const due = Math.min(msg.upTo, from + Math.floor(((Date.now() - started) / 1000) * config.rate));
        while (churn.opened < due && churn.pending < config.maxPending) openChurner();
      }, 10);
      return;
    }
    if (msg.type !== 'stop') return;
    stopping = true;
    clearInterval(churnTimer);
    clearInterval(progress);
    const stayerCloses: Record<string, number> = {};
    for (const s of stayers) if (!s.open) bump(stayerCloses, String(s.closeCode ?? 'unknown'));
    const missingOf = (seqs: number[]): Missing => {
      const out: Missing = { total: 0, stayersMissing: 0, seqs: [] };
      const missingSeqs = new Set<number>();
      for (const s of stayers) {
        const missing = seqs.filter((seq) => !s.seen[seq]);
        for (const seq of missing) missingSeqs.add(seq);
        out.total += missing.length;
        if (missing.length > 0) out.stayersMissing++;
      }
      out.seqs = [...missingSeqs].sort((a, b) => a - b).slice(0, 50);
      return out;
    };
    send({ type: 'done', churn, stayersOpen: stayers.filter((s) => s.open).length, stayerCloses, lost: missingOf(msg.acceptedSeqs), lostInWindow: missingOf(msg.windowSeqs) });
    for (const s of stayers) s.ws.terminate();
    setTimeout(() => process.exit(0), 200);
  });

  void connectStayers();
}

// Forked without a parent (or orphaned): nothing to do but leave.
process.on('disconnect', () => process.exit(0));
process.once('message', (msg: ToClient) => {
  if (msg.type === 'start') run(msg.config);
});
