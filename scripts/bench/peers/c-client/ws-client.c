/*
 * Reference load client: a minimal epoll WebSocket client in plain C.
 *
 * It exists to calibrate the TypeScript load client (npm run loadtest), not to
 * replace it: `npm run bench:client` runs both against the same server and
 * compares their CPU per connect and per received message. It does only what
 * that comparison needs and does it the plainest way:
 *
 *   - K processes (fork), each holding at most --per-process sockets under the
 *     20,000-file limit; one non-blocking epoll loop each, no threads.
 *   - Connects at --rate per second (total) with at most --max-pending
 *     handshakes in flight, binding round-robin to the --source-ips loopback
 *     addresses (bind to port 0, then connect: what a Node client does too).
 *   - Sends the upgrade request, accepts any 101, then decodes server frames:
 *     counts every text/binary message and takes the latency from the `"t":`
 *     field (microseconds, wall clock) of the payload; answers pings.
 *   - A failed attempt is retried at once, up to --retries times.
 *
 * Counters and latency histograms live in one shared mapping written by the
 * children; the parent prints a progress line every --progress-ms on stderr
 * (the same format as the TypeScript client's non-terminal progress) and, on
 * SIGINT/SIGTERM or after --duration seconds with everything connected, stops
 * the children and prints the report on stdout.
 *
 * Built from this file by build.sh with the system cc when a benchmark needs it:
 *   ws-client -c 20000 -s 127.0.0.2-127.0.0.11 ws://127.0.0.1:8080/ws
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 20000
#define MAX_PROCS 256
#define MAX_SOURCES 4096
/* Log-linear latency histogram: exact below 2048 us, then 1024 sub-buckets per
 * power of two (about 0.1%, like the TypeScript client's CompactHistogram). */
#define SUB 1024
#define LINEAR (2 * SUB)
#define MAX_EXP 32
#define BUCKETS (LINEAR + MAX_EXP * SUB)

enum { IDLE, CONNECTING, HANDSHAKE, OPEN };

struct conn {
  uint8_t state;
  uint8_t attempts;
  uint32_t index;   /* the connection's number in this process: picks its source address */
  char *pending;    /* bytes of an incomplete response head or frame, else NULL */
  uint32_t pending_len;
};

/* One child's figures, written only by that child (aligned 64-bit stores and
 * loads are atomic on x86-64, so the parent's progress reads are never torn). */
struct figures {
  uint64_t started, connected, pending, failed, dropped, errors, messages, untracked;
  uint64_t lat_count, lat_min, lat_max;
  uint64_t first_sent_us, last_recv_us; /* the window the message rate is taken over */
  double lat_sum, lat_sumsq;
  uint64_t errno_counts[134]; /* connect/read errors by errno; [0] = handshake refused (not 101) */
  uint64_t hist[BUCKETS];
};

static struct {
  long connections, rate, max_pending, per_process, retries, duration, progress_ms;
  struct sockaddr_in target;
  char request[512];
  size_t request_len;
  struct sockaddr_in sources[MAX_SOURCES];
  int nsources;
  const char *url;
} opt = { .connections = 1000, .rate = 5000, .max_pending = 1000, .per_process = 19000, .retries = 5, .progress_ms = 2000 };

static volatile sig_atomic_t stop_requested;
static struct conn conns[MAX_FDS];
static struct figures *me;
static int epfd;
static char rbuf[65536];

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int bucket_of(uint64_t v) {
  if (v < LINEAR) return (int)v;
  int e = 63 - __builtin_clzll(v) - 10; /* v >> e lies in [1024, 2048) */
  if (e > MAX_EXP) return BUCKETS - 1;
  return LINEAR + (e - 1) * SUB + (int)((v >> e) - SUB);
}

static uint64_t value_of(int i) {
  if (i < LINEAR) return (uint64_t)i;
  int e = (i - LINEAR) / SUB + 1;
  uint64_t m = (uint64_t)((i - LINEAR) % SUB + SUB);
  return (m << e) + ((uint64_t)1 << (e - 1)); /* bucket midpoint */
}

static void record_latency(uint64_t us) {
  if (us < 1) us = 1;
  me->hist[bucket_of(us)]++;
  if (me->lat_count == 0 || us < me->lat_min) me->lat_min = us;
  if (us > me->lat_max) me->lat_max = us;
  me->lat_sum += (double)us;
  me->lat_sumsq += (double)us * (double)us;
  me->lat_count++;
}

/* The clock payload {"t":<us>,"seq":..}: find "t": and read its digits. */
static void on_message(const char *p, size_t len, uint64_t recv_us) {
  me->messages++;
  const char *k = memmem(p, len, "\"t\":", 4);
  if (!k) { me->untracked++; return; }
  uint64_t t = 0;
  for (k += 4; k < p + len && *k >= '0' && *k <= '9'; k++) t = t * 10 + (uint64_t)(*k - '0');
  record_latency(recv_us > t ? recv_us - t : 1);
  if (!me->first_sent_us || t < me->first_sent_us) me->first_sent_us = t;
  if (recv_us > me->last_recv_us) me->last_recv_us = recv_us;
}

static void close_conn(int fd) {
  struct conn *c = &conns[fd];
  free(c->pending);
  c->pending = NULL;
  c->pending_len = 0;
  close(fd);
}

static void start_conn(uint32_t index, uint8_t attempts);

/* An attempt that did not reach OPEN: count it and retry, or give up. */
static void fail(int fd, int err) {
  struct conn c = conns[fd];
  if (c.state != OPEN) me->pending--;
  me->errors++;
  me->errno_counts[err >= 0 && err < 134 ? err : 0]++;
  close_conn(fd);
  conns[fd].state = IDLE;
  if (c.state == OPEN) { me->connected--; me->dropped++; return; } /* counted, never reconnected */
  if (c.attempts < opt.retries) start_conn(c.index, c.attempts + 1);
  else me->failed++;
}

static void start_conn(uint32_t index, uint8_t attempts) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || fd >= MAX_FDS) { perror("socket"); exit(1); }
  conns[fd] = (struct conn){ .state = CONNECTING, .attempts = attempts, .index = index };
  me->pending++;
  const struct sockaddr_in *src = opt.nsources ? &opt.sources[index % opt.nsources] : NULL;
  if ((src && bind(fd, (const struct sockaddr *)src, sizeof *src) < 0) ||
      (connect(fd, (const struct sockaddr *)&opt.target, sizeof opt.target) < 0 && errno != EINPROGRESS)) {
    fail(fd, errno);
    return;
  }
  struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void send_frame(int fd, uint8_t opcode, const char *payload, size_t len) {
  /* Client frames must be masked; a zero mask leaves the payload as it is. */
  char f[2 + 4 + 125];
  if (len > 125) return;
  f[0] = (char)(0x80 | opcode);
  f[1] = (char)(0x80 | len);
  memset(f + 2, 0, 4);
  memcpy(f + 6, payload, len);
  (void)!write(fd, f, 6 + len);
}

/* Decodes every complete frame in buf; returns the bytes consumed, or -1 when the connection ended. */
static long decode_frames(int fd, const char *buf, size_t len) {
  size_t off = 0;
  uint64_t recv_us = now_us();
  while (len - off >= 2) {
    const unsigned char *h = (const unsigned char *)buf + off;
    uint8_t opcode = h[0] & 0x0f;
    uint64_t plen = h[1] & 0x7f;
    size_t hdr = 2;
    if (plen == 126) {
      if (len - off < 4) break;
      plen = (uint64_t)h[2] << 8 | h[3];
      hdr = 4;
    } else if (plen == 127) {
      if (len - off < 10) break;
      plen = 0;
      for (int i = 2; i < 10; i++) plen = plen << 8 | h[i];
      hdr = 10;
    }
    if (plen > (1u << 26)) { fail(fd, EPROTO); return -1; }
    if (len - off - hdr < plen) break;
    const char *payload = buf + off + hdr;
    off += hdr + plen;
    if (opcode == 0x1 || opcode == 0x2) on_message(payload, plen, recv_us);
    else if (opcode == 0x9) send_frame(fd, 0xA, payload, plen);
    else if (opcode == 0x8) { fail(fd, ECONNRESET); return -1; }
    /* continuation frames (fragmented messages) never come from the servers under test */
  }
  return (long)off;
}

/* Returns the bytes consumed by the response head, 0 while incomplete, -1 when the connection ended. */
static long handshake(int fd, const char *buf, size_t len) {
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (!end) return len > 8192 ? (fail(fd, EPROTO), -1) : 0;
  if (len < 12 || memcmp(buf + 8, " 101", 4) != 0) { fail(fd, 0); return -1; }
  conns[fd].state = OPEN;
  me->pending--;
  me->connected++;
  return end + 4 - buf;
}

static void on_readable(int fd) {
  struct conn *c = &conns[fd];
  for (;;) {
    ssize_t n = read(fd, rbuf, sizeof rbuf);
    if (n == 0) { fail(fd, ECONNRESET); return; }
    if (n < 0) {
      if (errno != EAGAIN) fail(fd, errno);
      return;
    }
    const char *data = rbuf;
    size_t len = (size_t)n;
    if (c->pending) { /* rare: a frame or response head split across reads */
      c->pending = realloc(c->pending, c->pending_len + len);
      memcpy(c->pending + c->pending_len, rbuf, len);
      data = c->pending;
      len += c->pending_len;
    }
    long used = 0;
    if (c->state == HANDSHAKE) {
      used = handshake(fd, data, len);
      if (used > 0) {
        long more = decode_frames(fd, data + used, len - used);
        used = more < 0 ? -1 : used + more;
      }
    } else {
      used = decode_frames(fd, data, len);
    }
    if (used < 0) return;
    size_t rest = len - (size_t)used;
    if (rest == 0) { free(c->pending); c->pending = NULL; c->pending_len = 0; }
    else if (data == c->pending) { memmove(c->pending, data + used, rest); c->pending_len = (uint32_t)rest; }
    else { c->pending = malloc(rest); memcpy(c->pending, data + used, rest); c->pending_len = (uint32_t)rest; }
    if ((size_t)n < sizeof rbuf) return; /* drained */
  }
}

static void on_writable(int fd) {
  int err = 0;
  socklen_t l = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err) { fail(fd, err); return; }
  if (write(fd, opt.request, opt.request_len) != (ssize_t)opt.request_len) { fail(fd, errno); return; }
  conns[fd].state = HANDSHAKE;
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* One client process: ramp `count` connections at `rate`/s, then serve events until killed. */
static void run_child(struct figures *fig, long count, long rate, long max_pending) {
  me = fig;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event events[1024];
  uint64_t t0 = now_us();
  for (;;) {
    uint64_t allowed = (uint64_t)((double)rate * (double)(now_us() - t0) / 1e6) + 1;
    while (fig->started < (uint64_t)count && fig->started < allowed && fig->pending < (uint64_t)max_pending)
      start_conn((uint32_t)fig->started++, 0);
    int ramping = fig->started < (uint64_t)count;
    int n = epoll_wait(epfd, events, 1024, ramping ? 10 : -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (conns[fd].state == CONNECTING) {
        if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(fd);
      } else if (conns[fd].state != IDLE) {
        on_readable(fd);
      }
    }
  }
}

static uint64_t percentile(const uint64_t *hist, uint64_t total, double q) {
  uint64_t want = (uint64_t)ceil(q / 100.0 * (double)total), seen = 0;
  if (want < 1) want = 1;
  for (int i = 0; i < BUCKETS; i++)
    if ((seen += hist[i]) >= want) return value_of(i);
  return 0;
}

static void report(struct figures *figs, int nprocs, double connect_all_s) {
  static struct figures t; /* the sum over processes */
  memset(&t, 0, sizeof t);
  for (int p = 0; p < nprocs; p++) {
    struct figures *f = &figs[p];
    t.connected += f->connected; t.failed += f->failed; t.dropped += f->dropped; t.messages += f->messages;
    t.untracked += f->untracked;
    if (f->lat_count && (t.lat_count == 0 || f->lat_min < t.lat_min)) t.lat_min = f->lat_min;
    if (f->lat_max > t.lat_max) t.lat_max = f->lat_max;
    t.lat_count += f->lat_count; t.lat_sum += f->lat_sum; t.lat_sumsq += f->lat_sumsq;
    if (f->first_sent_us && (!t.first_sent_us || f->first_sent_us < t.first_sent_us)) t.first_sent_us = f->first_sent_us;
    if (f->last_recv_us > t.last_recv_us) t.last_recv_us = f->last_recv_us;
    for (int i = 0; i < 134; i++) t.errno_counts[i] += f->errno_counts[i];
    for (int i = 0; i < BUCKETS; i++) t.hist[i] += f->hist[i];
  }
  printf("c ws-client  %s  (%d client process%s)\n", opt.url, nprocs, nprocs > 1 ? "es" : "");
  printf("active connections: %lu / %ld   failed: %lu   dropped: %lu", t.connected, opt.connections, t.failed, t.dropped);
  if (connect_all_s >= 0) printf("   all connected in %.2f s", connect_all_s);
  printf("\nerrors (attempts):");
  int any = 0;
  for (int i = 0; i < 134; i++)
    if (t.errno_counts[i]) { printf(" %s=%lu", i ? strerrorname_np(i) : "not_101", t.errno_counts[i]); any = 1; }
  printf("%s\n", any ? "" : " none");
  double n = (double)t.lat_count, mean = n ? t.lat_sum / n : 0, sd = n ? sqrt(fmax(0, t.lat_sumsq / n - mean * mean)) : 0;
  double ms = 1000.0;
  printf("latency: count=%lu\n", t.lat_count);
  printf("  min=%.3f ms  max=%.3f ms  mean=%.3f ms  stddev=%.3f ms\n", t.lat_min / ms, t.lat_max / ms, mean / ms, sd / ms);
  const double qs[] = { 50, 75, 95, 98, 99, 99.9 };
  const char *names[] = { "median", "75%", "95%", "98%", "99%", "99.9%" };
  printf(" ");
  for (int i = 0; i < 6; i++) printf(" %s=%.3f ms ", names[i], percentile(t.hist, t.lat_count, qs[i]) / ms);
  printf("\nmessages: received=%lu untracked=%lu", t.messages, t.untracked);
  if (t.last_recv_us > t.first_sent_us && t.first_sent_us) printf(" rate=%.0f/s", n / ((double)(t.last_recv_us - t.first_sent_us) / 1e6));
  printf("\n");
}

static void parse_url(const char *url) {
  char host[64];
  int port = 80, off = 0;
  if (sscanf(url, "ws://%63[^:/]%n:%d%n", host, &off, &port, &off) < 1) { fprintf(stderr, "bad URL %s\n", url); exit(2); }
  const char *path = url + off;
  if (*path == ':') path = strchr(path, '/');
  if (!path || !*path) path = "/";
  opt.target.sin_family = AF_INET;
  opt.target.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &opt.target.sin_addr) != 1) { fprintf(stderr, "need an IPv4 address in %s\n", url); exit(2); }
  /* One fixed key: the server only echoes a hash of it (the TypeScript client does the same). */
  opt.request_len = (size_t)snprintf(opt.request, sizeof opt.request,
      "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host, port);
  opt.url = url;
}

/* "127.0.0.2-127.0.0.11,127.0.1.5": ranges and single addresses, as --source-ips of the TypeScript client. */
static void parse_sources(char *spec) {
  for (char *part = strtok(spec, ","); part; part = strtok(NULL, ",")) {
    char *dash = strchr(part, '-');
    if (dash) *dash = 0;
    struct in_addr a, b;
    if (inet_pton(AF_INET, part, &a) != 1 || (dash && inet_pton(AF_INET, dash + 1, &b) != 1)) {
      fprintf(stderr, "bad --source-ips part %s\n", part);
      exit(2);
    }
    for (uint32_t i = ntohl(a.s_addr); i <= (dash ? ntohl(b.s_addr) : ntohl(a.s_addr)); i++) {
      if (opt.nsources == MAX_SOURCES) { fprintf(stderr, "more than %d source addresses\n", MAX_SOURCES); exit(2); }
      struct sockaddr_in *s = &opt.sources[opt.nsources++];
      s->sin_family = AF_INET;
      s->sin_addr.s_addr = htonl(i);
    }
  }
}

static void on_signal(int sig) { (void)sig; stop_requested = 1; }

int main(int argc, char **argv) {
  static const struct option longopts[] = {
    { "connections", 1, 0, 'c' }, { "source-ips", 1, 0, 's' }, { "rate", 1, 0, 'r' },
    { "max-pending", 1, 0, 'p' }, { "per-process", 1, 0, 'k' }, { "retries", 1, 0, 'R' },
    { "duration", 1, 0, 'd' }, { "progress-ms", 1, 0, 'i' }, { 0, 0, 0, 0 },
  };
  for (int ch; (ch = getopt_long(argc, argv, "c:s:r:p:k:R:d:i:", longopts, NULL)) != -1;) {
    switch (ch) {
      case 'c': opt.connections = atol(optarg); break;
      case 's': parse_sources(optarg); break;
      case 'r': opt.rate = atol(optarg); break;
      case 'p': opt.max_pending = atol(optarg); break;
      case 'k': opt.per_process = atol(optarg); break;
      case 'R': opt.retries = atol(optarg); break;
      case 'd': opt.duration = atol(optarg); break;
      case 'i': opt.progress_ms = atol(optarg); break;
      default:
        fprintf(stderr, "usage: ws-client [-c N] [-s SOURCE_IPS] [-r RATE] [-p MAX_PENDING] [-k PER_PROCESS] "
                        "[-R RETRIES] [-d SECONDS] [-i PROGRESS_MS] ws://HOST:PORT/PATH\n");
        return 2;
    }
  }
  parse_url(optind < argc ? argv[optind] : "ws://127.0.0.1:8080/ws");
  if (opt.connections < 1 || opt.rate < 1 || opt.max_pending < 1 || opt.progress_ms < 1 ||
      opt.per_process < 1 || opt.per_process > MAX_FDS - 100) { fprintf(stderr, "bad option value\n"); return 2; }
  int nprocs = (int)((opt.connections + opt.per_process - 1) / opt.per_process);
  if (nprocs > MAX_PROCS) { fprintf(stderr, "more than %d processes\n", MAX_PROCS); return 2; }

  struct figures *figs = mmap(NULL, sizeof *figs * (size_t)nprocs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (figs == MAP_FAILED) { perror("mmap"); return 1; }
  signal(SIGPIPE, SIG_IGN);
  pid_t pids[MAX_PROCS];
  for (int p = 0; p < nprocs; p++) {
    long count = opt.connections / nprocs + (p < opt.connections % nprocs ? 1 : 0);
    if ((pids[p] = fork()) == 0) run_child(&figs[p], count, opt.rate / nprocs + 1, opt.max_pending / nprocs + 1);
  }
  fprintf(stderr, "client processes: %d started\n", nprocs);
  /* The parent only watches: progress lines, the end condition, the report. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  uint64_t t0 = now_us(), all_at = 0;
  while (!stop_requested) {
    usleep((useconds_t)opt.progress_ms * 1000);
    uint64_t c = 0, pend = 0, st = 0, err = 0, fl = 0, msgs = 0;
    for (int p = 0; p < nprocs; p++) {
      c += figs[p].connected; pend += figs[p].pending; st += figs[p].started;
      err += figs[p].errors; fl += figs[p].failed; msgs += figs[p].messages;
    }
    double el = (double)(now_us() - t0) / 1e6;
    fprintf(stderr, "%lu/%ld connected  pending=%lu  started=%lu  errors=%lu  failed=%lu  msgs=%lu  %.1fs\n",
            c, opt.connections, pend, st, err, fl, msgs, el);
    if (!all_at && c >= (uint64_t)opt.connections) all_at = now_us();
    if (opt.duration && all_at && now_us() - all_at >= (uint64_t)opt.duration * 1000000u) break;
  }
  for (int p = 0; p < nprocs; p++) kill(pids[p], SIGKILL);
  for (int p = 0; p < nprocs; p++) waitpid(pids[p], NULL, 0);
  report(figs, nprocs, all_at ? (double)(all_at - t0) / 1e6 : -1);
  return 0;
}
