// The libdatachannel side of the benchmark (npm node-datachannel, native API, peers on
// 127.0.0.1): the same figures as tests/godot/bench/bench.gd, printed as "BENCH {json}" lines.
//   node ldc_bench.mjs --suite=core|scale            both peers in this process
//   node ldc_bench.mjs --suite=remote --role=offer|answer --port=N
//                                                    one peer of a two-process pair; the offerer
//                                                    listens for the signaling link on N
//   node ldc_bench.mjs --suite=lossy --relay=PATH --loss=F --delay=MS --seed=N --seconds=S
//                      [--pattern=bulk|game] [--burst=SHORTEST-LONGEST]
//                                                    both peers in this process, the udp-impair
//                                                    relay as their only path
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import readline from 'node:readline';

// The npm packages live with the interop suite (tests/interop/package.json).
const nodeDataChannel = createRequire(new URL('../interop/package.json', import.meta.url))('node-datachannel');

const STACK = 'libdatachannel (node-datachannel)';
const THROUGHPUT_BYTES = 64 * 1024 * 1024;
const UNRELIABLE_BYTES = 16 * 1024 * 1024;
const HIGH_WATER = 1024 * 1024;
const OPEN_SAMPLES = 10;
const RTT_SAMPLES = 2000;
const LOSSY_MESSAGE = 16384;
const GAME_RATE = 20;
const GAME_BYTES = 200;
const GAME_DRAIN_MS = 15000;

const report = (metric, value, unit, extra = {}) =>
  console.log(`BENCH ${JSON.stringify({ stack: STACK, metric, value, unit, ...extra })}`);
const now = () => Number(process.hrtime.bigint()) / 1e3; // µs

// Replaces a candidate's address and port (fields 4 and 5) with `endpoint` ("ip:port").
const rewrite = (candidate, endpoint) => {
  if (!endpoint) return candidate;
  const fields = candidate.split(' ');
  const cut = endpoint.lastIndexOf(':');
  fields[4] = endpoint.slice(0, cut);
  fields[5] = endpoint.slice(cut + 1);
  return fields.join(' ');
};

let counter = 0;
// `seenAt` = { a, b }: the address each side's candidates are rewritten to (the relay's).
function connectedPair(options = {}, seenAt = {}, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    // Explicit negotiation: a offers, b answers (by default both would offer on channel creation).
    const config = { iceServers: [], bindAddress: '127.0.0.1', disableAutoNegotiation: true };
    const a = new nodeDataChannel.PeerConnection(`a${counter}`, config);
    const b = new nodeDataChannel.PeerConnection(`b${counter++}`, config);
    // Candidates can overtake descriptions across libdatachannel's threads: hold them back.
    const link = (to) => {
      const state = { described: false, pending: [] };
      return {
        description(sdp, type) {
          // Candidates travel only as candidate messages, where they can be rewritten.
          const bare = sdp.split('\r\n').filter((line) => !line.startsWith('a=candidate')).join('\r\n');
          to.setRemoteDescription(seenAt.a || seenAt.b ? bare : sdp, type);
          state.described = true;
          state.pending.forEach(([candidate, mid]) => to.addRemoteCandidate(candidate, mid));
        },
        candidate(candidate, mid) {
          if (state.described) to.addRemoteCandidate(candidate, mid);
          else state.pending.push([candidate, mid]);
        },
      };
    };
    const toA = link(a);
    const toB = link(b);
    a.onLocalDescription((sdp, type) => {
      toB.description(sdp, type);
      b.setLocalDescription('answer');
    });
    b.onLocalDescription((sdp, type) => toA.description(sdp, type));
    a.onLocalCandidate((candidate, mid) => toB.candidate(rewrite(candidate, seenAt.a), mid));
    b.onLocalCandidate((candidate, mid) => toA.candidate(rewrite(candidate, seenAt.b), mid));
    const init = { negotiated: true, id: 1, ...options };
    const ca = a.createDataChannel('bench', init);
    const cb = b.createDataChannel('bench', init);
    let open = 0;
    const opened = () => {
      if (++open === 2) resolve({ a, b, ca, cb });
    };
    ca.onOpen(opened);
    cb.onOpen(opened);
    a.setLocalDescription('offer');
    setTimeout(() => reject(new Error('channel did not open')), timeoutMs).unref();
  });
}

function closePair({ a, b, ca, cb }) {
  ca.close();
  cb.close();
  a.close();
  b.close();
}

// Keeps `channel` holding HIGH_WATER bytes, refilled when it drains to half, until `total`
// bytes of `size`-byte messages went out. Returns a function reading how many bytes were sent.
function keepFull(channel, size, total) {
  const message = Buffer.alloc(size);
  let sent = 0;
  const pump = () => {
    // sendMessageBinary returns false when it queued rather than sent: not an error.
    while (sent < total && channel.bufferedAmount() < HIGH_WATER) {
      channel.sendMessageBinary(message);
      sent += size;
    }
  };
  channel.setBufferedAmountLowThreshold(HIGH_WATER / 2);
  channel.onBufferedAmountLow(pump);
  pump();
  return () => sent;
}

function throughput({ ca, cb }, size, total) {
  return new Promise((resolve) => {
    let received = 0;
    const started = now();
    let lastArrival = started;
    let quiet = null;
    let sent = () => 0;
    const finish = () => {
      clearInterval(quiet);
      cb.onMessage(() => {});
      resolve({ seconds: (lastArrival - started) / 1e6, received, sent: sent() });
    };
    cb.onMessage((data) => {
      received += data.length ?? data.byteLength;
      lastArrival = now();
      if (received >= total) finish();
    });
    // Unreliable runs may never reach the total: stop 300 ms after the last arrival.
    quiet = setInterval(() => {
      if (sent() >= total && now() - lastArrival > 300000) finish();
    }, 50);
    sent = keepFull(ca, size, total);
  });
}

function roundTrips({ ca, cb }) {
  return new Promise((resolve) => {
    const ping = Buffer.alloc(64);
    const samples = [];
    let started = 0;
    cb.onMessage((data) => cb.sendMessageBinary(Buffer.from(data)));
    ca.onMessage(() => {
      samples.push(now() - started);
      if (samples.length === RTT_SAMPLES) resolve(samples.sort((x, y) => x - y));
      else send();
    });
    const send = () => {
      started = now();
      ca.sendMessageBinary(ping);
    };
    send();
  });
}

async function core() {
  for (let i = 0; i < OPEN_SAMPLES; i++) {
    const started = now();
    const pair = await connectedPair();
    report('open_ms', (now() - started) / 1000, 'ms', { sample: i });
    closePair(pair);
  }
  const pair = await connectedPair();
  for (const size of [16384, 1024]) {
    const { seconds } = await throughput(pair, size, THROUGHPUT_BYTES);
    report('reliable_mb_s', THROUGHPUT_BYTES / seconds / 1e6, 'MB/s', { message: size });
  }
  const rtts = await roundTrips(pair);
  report('rtt_p50_us', rtts[Math.floor(rtts.length / 2)], 'µs', { pacing: 'event driven' });
  report('rtt_p99_us', rtts[Math.floor(rtts.length * 0.99)], 'µs', { pacing: 'event driven' });
  closePair(pair);

  const lossy = await connectedPair({ unordered: true, maxRetransmits: 0 });
  const { seconds, received, sent } = await throughput(lossy, 1024, UNRELIABLE_BYTES);
  report('unreliable_mb_s', received / seconds / 1e6, 'MB/s', { message: 1024 });
  report('unreliable_delivered', received / sent, 'fraction', { message: 1024 });
  closePair(lossy);
}

async function scale() {
  global.gc?.();
  const before = process.memoryUsage().rss / 1024;
  const pairs = [];
  for (let i = 0; i < 128; i++) pairs.push(await connectedPair());
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rss = process.memoryUsage().rss / 1024;
  report('rss_kb_per_peer', (rss - before) / 256, 'KB', { peers: 256, rss_kb: rss });
  pairs.forEach(closePair);
}

// Starts the udp-impair relay; resolves to { relay, forA, forB, command(line) → reply line }.
function startRelay(path, args) {
  return new Promise((resolve, reject) => {
    const relay = spawn(path, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    relay.on('error', reject);
    const lines = readline.createInterface({ input: relay.stdout });
    const waiting = [];
    lines.on('line', (line) => waiting.shift()?.(line));
    waiting.push((line) => {
      const [word, forA, forB] = line.split(' ');
      if (word !== 'READY') reject(new Error(`relay said ${line}`));
      const command = (text) => new Promise((reply) => {
        waiting.push(reply);
        relay.stdin.write(`${text}\n`);
      });
      resolve({ relay, forA, forB, command });
    });
  });
}

// 16 KiB messages kept flowing for `seconds`: what arrived in that time, per second.
function lossyBulk({ ca, cb }, seconds, extra) {
  return new Promise((resolve) => {
    let received = 0;
    cb.onMessage((data) => {
      received += data.length ?? data.byteLength;
    });
    keepFull(ca, LOSSY_MESSAGE, Infinity);
    setTimeout(() => {
      report('lossy_kb_s', received / seconds / 1000, 'KB/s', { ...extra, message: LOSSY_MESSAGE });
      cb.onMessage(() => {});
      ca.onBufferedAmountLow(() => {});
      resolve();
    }, seconds * 1000);
  });
}

// GAME_RATE messages a second for `seconds`, each carrying its send time: the latency of each
// from send to the receiving callback.
function lossyGame({ ca, cb }, seconds, extra) {
  return new Promise((resolve) => {
    const total = Math.round(seconds * GAME_RATE);
    const latencies = [];
    let sent = 0;
    let drain = null;
    const finish = () => {
      clearTimeout(drain);
      cb.onMessage(() => {});
      report('game_delivered', latencies.length / total, 'fraction', extra);
      latencies.sort((x, y) => x - y);
      if (latencies.length) {
        const quantiles = {
          p50: latencies[Math.floor(latencies.length / 2)],
          p99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
          'p99.9': latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.999))],
          max: latencies[latencies.length - 1],
        };
        for (const [quantile, value] of Object.entries(quantiles)) {
          report('game_latency_ms', value, 'ms', { ...extra, quantile });
        }
      }
      resolve();
    };
    cb.onMessage((data) => {
      latencies.push((now() - Buffer.from(data).readDoubleLE(0)) / 1000);
      if (latencies.length === total) finish();
    });
    // Each send is scheduled against the start, so timer lateness does not accumulate.
    const started = now();
    const tick = () => {
      const message = Buffer.alloc(GAME_BYTES);
      message.writeDoubleLE(now(), 0);
      ca.sendMessageBinary(message);
      sent += 1;
      if (sent < total) {
        setTimeout(tick, Math.max(0, (started + (sent * 1e6) / GAME_RATE - now()) / 1000));
      } else {
        drain = setTimeout(finish, GAME_DRAIN_MS);
      }
    };
    tick();
  });
}

async function lossy(options) {
  const { relay, forA, forB, command } = await startRelay(options.relay, [
    '--loss', options.loss, '--delay', options.delay, '--seed', options.seed,
    ...(options.burst ? ['--burst', options.burst] : []),
  ]);
  const extra = { loss: Number(options.loss), delay_ms: Number(options.delay), pattern: options.pattern };
  if (options.burst) extra.burst = options.burst;
  // Each side learns the relay's address instead of the other's: the relay is the only path.
  const pair = await connectedPair({}, { a: forB, b: forA }, 30000);
  const seconds = Number(options.seconds);
  await (options.pattern === 'game' ? lossyGame : lossyBulk)(pair, seconds, extra);
  const counts = Object.fromEntries(
    (await command('stats')).replace(/^STATS /, '').split(' ').map((field) => field.split('=')),
  );
  report('packets_back_per_packet_out', Number(counts.from_b) / Math.max(1, Number(counts.from_a)), 'ratio', extra);
  closePair(pair);
  relay.stdin.end();
}

// One JSON object per line over loopback TCP; resolves to { send, onMessage }.
function signalingLink(role, port) {
  return new Promise((resolve, reject) => {
    const wrap = (socket) => {
      let pending = '';
      const handlers = [];
      socket.setNoDelay(true);
      socket.on('data', (chunk) => {
        pending += chunk;
        let cut;
        while ((cut = pending.indexOf('\n')) >= 0) {
          const message = JSON.parse(pending.slice(0, cut));
          pending = pending.slice(cut + 1);
          handlers.forEach((handler) => handler(message));
        }
      });
      resolve({
        socket,
        send: (message) => socket.write(`${JSON.stringify(message)}\n`),
        onMessage: (handler) => handlers.push(handler),
      });
    };
    setTimeout(() => reject(new Error('no signaling link')), 10000).unref();
    if (role === 'offer') {
      const server = net.createServer((socket) => {
        server.close();
        wrap(socket);
      });
      server.listen(port, '127.0.0.1');
    } else {
      const attempt = () => {
        const socket = net.connect(port, '127.0.0.1', () => wrap(socket));
        socket.on('error', () => setTimeout(attempt, 5));
      };
      attempt();
    }
  });
}

// One side of the two-process run: the offerer sends each size after a text "begin" marker
// and waits for "done"; the answerer times the bytes from the marker to the last one.
async function remote(role, port) {
  const link = await signalingLink(role, port);
  const config = { iceServers: [], bindAddress: '127.0.0.1', disableAutoNegotiation: true };
  const pc = new nodeDataChannel.PeerConnection(role, config);
  pc.onLocalDescription((sdp, type) => link.send({ sdp, type }));
  pc.onLocalCandidate((candidate, mid) => link.send({ candidate, mid }));
  let described = false;
  const early = [];
  link.onMessage((message) => {
    if (message.sdp) {
      pc.setRemoteDescription(message.sdp, message.type);
      described = true;
      early.forEach(([candidate, mid]) => pc.addRemoteCandidate(candidate, mid));
      if (message.type === 'offer') pc.setLocalDescription('answer');
    } else if (described) {
      pc.addRemoteCandidate(message.candidate, message.mid);
    } else {
      early.push([message.candidate, message.mid]);
    }
  });
  const channel = pc.createDataChannel('bench', { negotiated: true, id: 1 });
  const open = new Promise((resolve) => channel.onOpen(resolve));
  if (role === 'offer') pc.setLocalDescription('offer');
  await open;
  const messages = [];
  let wake = null;
  channel.onMessage((data) => {
    messages.push(data);
    wake?.();
  });
  const next = () =>
    messages.length ? Promise.resolve(messages.shift()) : new Promise((resolve) => {
      wake = () => {
        wake = null;
        resolve(messages.shift());
      };
    });
  for (const size of [16384, 1024]) {
    if (role === 'offer') {
      channel.sendMessage(`begin ${size}`);
      keepFull(channel, size, THROUGHPUT_BYTES);
      while ((await next()) !== `done ${size}`);
    } else {
      while ((await next()) !== `begin ${size}`);
      const started = now();
      let received = 0;
      while (received < THROUGHPUT_BYTES) {
        const data = await next();
        received += data.length ?? data.byteLength;
      }
      const seconds = (now() - started) / 1e6;
      report('reliable_mb_s', THROUGHPUT_BYTES / seconds / 1e6, 'MB/s', { message: size, processes: 2 });
      channel.sendMessage(`done ${size}`);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  channel.close();
  pc.close();
  link.socket.destroy();
}

const option = (name, fallback) =>
  process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const suite = option('suite', 'core');
try {
  if (suite === 'remote') await remote(option('role', 'offer'), Number(option('port', '0')));
  else if (suite === 'lossy') {
    await lossy({
      relay: option('relay', ''), loss: option('loss', '0'), delay: option('delay', '0'),
      seed: option('seed', '1'), seconds: option('seconds', '10'), pattern: option('pattern', 'bulk'),
      burst: option('burst', ''),
    });
  } else await (suite === 'scale' ? scale() : core());
} finally {
  nodeDataChannel.cleanup();
}
process.exit(0);
