// The remote side of one interop run, written against the standard RTCPeerConnection API so the
// same code runs in Chromium (page.html) and in Node on libdatachannel's W3C polyfill (node.mjs).
// It mirrors tests/godot/interop/interop_peer.gd; SCENARIO.md describes the exchange.

export const BULK_MESSAGES = 64;
export const BULK_SIZE = 16384;
export const LOSSY_MESSAGES = 20;
export const TEXT = 'text from the other side ✓';
export const BINARY = new Uint8Array([0, 1, 2, 128, 255]);

export function bulkMessage(i) {
  const data = new Uint8Array(BULK_SIZE);
  for (let j = 0; j < BULK_SIZE; j++) data[j] = (i * 7 + j) % 256;
  return data;
}

async function sha256Hex(chunks) {
  const total = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    total.set(c, at);
    at += c.length;
  }
  const digest = await crypto.subtle.digest('SHA-256', total);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// Only loopback candidates leave this peer: the suite must not touch other interfaces.
const isLoopbackCandidate = (line) => {
  const address = line.replace(/^a=/, '').trim().split(/\s+/)[4] ?? '';
  return address.startsWith('127.');
};
const loopbackOnly = (sdp) =>
  sdp
    .split('\r\n')
    .filter((line) => !line.startsWith('a=candidate:') || isLoopbackCandidate(line))
    .join('\r\n');

function until(condition, ms) {
  return new Promise((resolve) => {
    const deadline = Date.now() + ms;
    const tick = () => {
      if (condition()) resolve(true);
      else if (Date.now() > deadline) resolve(false);
      else setTimeout(tick, 5);
    };
    tick();
  });
}

/**
 * Runs the scenario. `env`: { RTCPeerConnection, WebSocket, server, lobby, offer, closer,
 * config, seesRemoteReliability, channelId?, log }. Resolves with the number of failed checks.
 */
export async function runPeer(env) {
  const { log } = env;
  const idOf = env.channelId ?? ((channel) => channel.id);
  let failures = 0;
  const check = (name, ok, detail = '') => {
    log(`CHECK ${name} ${ok ? 'PASS' : 'FAIL'} ${detail}`);
    if (!ok) failures++;
  };

  const pc = new env.RTCPeerConnection(env.config);
  const ws = new env.WebSocket(env.server);
  let remote = 0;
  const send = (message) => ws.send(JSON.stringify(message));
  const ctlInbox = [];
  let remoteIds = null;
  const got = { text: false, binary: false, bulk: [], bulkInOrder: true, lossy: 0 };

  pc.onicecandidate = (e) => {
    if (e.candidate && e.candidate.candidate && isLoopbackCandidate(e.candidate.candidate)) {
      send({
        type: 'candidate',
        to: remote,
        media: e.candidate.sdpMid ?? '0',
        index: e.candidate.sdpMLineIndex ?? 0,
        name: e.candidate.candidate,
      });
    }
  };
  const sendDescription = async () => {
    const d = pc.localDescription;
    send({ type: d.type, to: remote, sdp: loopbackOnly(d.sdp) });
  };

  const channels = {};
  const wire = (ch) => {
    ch.binaryType = 'arraybuffer';
    channels[ch.label] = ch;
    ch.onmessage = (e) => {
      const isText = typeof e.data === 'string';
      const bytes = isText ? null : new Uint8Array(e.data);
      if (ch.label === 'interop-ctl') {
        const message = JSON.parse(isText ? e.data : new TextDecoder().decode(bytes));
        ctlInbox.push(message);
        if (message.op === 'ids') remoteIds = message;
      } else if (ch.label === 'interop-neg') {
        if (isText && e.data === TEXT) got.text = true;
        else if (!isText && bytes.length === BINARY.length && bytes.every((b, i) => b === BINARY[i])) got.binary = true;
        else log(`unexpected message on interop-neg: ${isText ? e.data : bytes}`);
      } else if (ch.label === 'interop-inband') {
        if (isText || bytes.length !== BULK_SIZE || bytes[0] !== (got.bulk.length * 7) % 256) got.bulkInOrder = false;
        got.bulk.push(isText ? new TextEncoder().encode(e.data) : bytes);
      } else if (ch.label === 'interop-lossy') {
        got.lossy++;
      }
    };
  };
  // Created once the remote peer is known: libdatachannel starts negotiating (and gathering)
  // as soon as a channel exists, which must not happen before we know our role's partner.
  const createChannels = () => {
    wire(pc.createDataChannel('interop-ctl', { negotiated: true, id: 0 }));
    wire(pc.createDataChannel('interop-neg', { negotiated: true, id: 1 }));
    if (env.offer) {
      wire(pc.createDataChannel('interop-inband', { protocol: 'interop-proto' }));
      wire(pc.createDataChannel('interop-lossy', { ordered: false, maxRetransmits: 0 }));
    }
  };
  pc.ondatachannel = (e) => wire(e.channel);

  ws.onmessage = async (event) => {
    const message = JSON.parse(typeof event.data === 'string' ? event.data : event.data.toString());
    if (message.type === 'joined') {
      remote = message.peers[0];
      if (env.offer) {
        createChannels();
        await pc.setLocalDescription(await pc.createOffer());
        await sendDescription();
      }
    } else if (message.type === 'offer') {
      await pc.setRemoteDescription({ type: 'offer', sdp: message.sdp });
      createChannels();
      await pc.setLocalDescription(await pc.createAnswer());
      await sendDescription();
    } else if (message.type === 'answer') {
      await pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
    } else if (message.type === 'candidate') {
      let name = message.name;
      if (!name.startsWith('candidate:')) name = `candidate:${name}`;
      await pc.addIceCandidate({ candidate: name, sdpMid: message.media, sdpMLineIndex: message.index });
    } else if (message.type === 'error') {
      log(`signaling error: ${message.message}`);
    }
  };
  ws.onopen = () => send({ type: 'join', lobby: env.lobby, mesh: true });

  const labels = ['interop-ctl', 'interop-neg', 'interop-inband', 'interop-lossy'];
  const opened = await until(() => labels.every((l) => channels[l]?.readyState === 'open'), 20000);
  check('connect', opened, `state=${pc.connectionState}`);
  if (!opened) {
    pc.close();
    ws.close();
    return failures;
  }
  const { 'interop-ctl': ctl, 'interop-neg': neg, 'interop-inband': inband, 'interop-lossy': lossy } = channels;
  const sendCtl = (message) => ctl.send(JSON.stringify(message));
  if (env.offer) {
    sendCtl({ op: 'ids', inband: idOf(inband), lossy: idOf(lossy) });
  } else {
    await until(() => remoteIds !== null, 10000);
    check(
      'inband_seen',
      inband.label === 'interop-inband' && inband.protocol === 'interop-proto' && inband.ordered &&
        !inband.negotiated && inband.id === remoteIds?.inband,
      `label=${inband.label} protocol=${inband.protocol} ordered=${inband.ordered} id=${inband.id} (remote says ${remoteIds?.inband})`,
    );
    // node-datachannel does not expose a remote channel's reliability (its polyfill reports
    // the defaults), so there only the label and id can be checked.
    const reliabilityOk = !env.seesRemoteReliability || (!lossy.ordered && lossy.maxRetransmits === 0);
    check(
      'lossy_seen',
      lossy.label === 'interop-lossy' && lossy.id === remoteIds?.lossy && reliabilityOk,
      `ordered=${lossy.ordered} maxRetransmits=${lossy.maxRetransmits} id=${lossy.id}` +
        (env.seesRemoteReliability ? '' : ' (reliability not exposed here)'),
    );
  }

  neg.send(TEXT);
  neg.send(BINARY);
  for (let i = 0; i < BULK_MESSAGES; i++) inband.send(bulkMessage(i));
  // As on the Godot side: the datagrams go once the bulk has left, not in one packet behind it.
  await until(() => inband.bufferedAmount === 0, 30000);
  for (let i = 0; i < LOSSY_MESSAGES; i++) lossy.send(`lossy ${i}`);

  const received = await until(() => got.text && got.binary && got.bulk.length === BULK_MESSAGES, 30000);
  await until(() => got.lossy === LOSSY_MESSAGES, 2000);
  check('text', got.text, 'text arrived as a string');
  check('binary', got.binary, 'binary arrived as an ArrayBuffer');
  const expected = await sha256Hex(Array.from({ length: BULK_MESSAGES }, (_, i) => bulkMessage(i)));
  const digest = await sha256Hex(got.bulk);
  check(
    'bulk_1mib',
    got.bulk.length === BULK_MESSAGES && got.bulkInOrder && digest === expected,
    `${got.bulk.length} of ${BULK_MESSAGES} messages, sha256 ${digest.slice(0, 16)}`,
  );
  check(
    'unordered_lossy',
    got.lossy > 0 && (!lossy.ordered || (!env.offer && !env.seesRemoteReliability)),
    `${got.lossy} of ${LOSSY_MESSAGES} datagrams`,
  );
  sendCtl({ op: 'done' });
  if (received) await until(() => ctlInbox.some((m) => m.op === 'done'), 20000);

  if (!received) {
    check('run', false, 'not everything arrived');
  } else if (env.closer) {
    inband.close();
    const seen = await until(() => ctlInbox.some((m) => m.op === 'saw_close'), 10000);
    check('remote_saw_channel_close', seen, 'the remote acknowledged our channel close');
    pc.close();
  } else {
    const closed = await until(() => inband.readyState === 'closed', 10000);
    check('channel_close_seen', closed, `readyState=${inband.readyState}`);
    sendCtl({ op: 'saw_close' });
    // Some stacks (werift) notice a closed peer only when ICE consent expires: 30 s (RFC 7675).
    const gone = await until(() => ['closed', 'disconnected', 'failed'].includes(pc.connectionState), 40000);
    check('connection_close_seen', gone, `connectionState=${pc.connectionState}`);
    pc.close();
  }
  ws.close();
  return failures;
}
