// Runs peer.mjs in Node on werift (npm werift), the TypeScript WebRTC stack that Node game
// servers use: `node werift.mjs --server=URL --lobby=NAME --offer=yes|no --closer=yes|no`.
import dgram from 'dgram';
import { syncBuiltinESMExports } from 'module';
import { RTCPeerConnection } from 'werift';
import WebSocket from 'ws';
import { runPeer } from './peer.mjs';

// The same socket buffers our side asks for (4 MiB). With Node's default (208 KiB) a burst on
// loopback overflows werift's socket, and werift 0.25.2 then stalls an ordered stream for good:
// once a retransmission completes a message, its reassembly does not go on to the messages
// already waiting behind it when another stream's chunks sit between them (SCENARIO.md).
const createSocket = dgram.createSocket;
dgram.createSocket = (...args) => {
  const socket = createSocket(...args);
  socket.once('listening', () => socket.setRecvBufferSize(4 * 1024 * 1024));
  return socket;
};
syncBuiltinESMExports();

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, ...rest] = arg.replace(/^--/, '').split('=');
    return [key, rest.join('=')];
  }),
);

// werift's channels take Buffers and strings; the scenario sends Uint8Arrays as a browser would.
const asBuffer = (data) => (typeof data === 'string' || Buffer.isBuffer(data) ? data : Buffer.from(data));
const wrapChannel = (channel) => {
  const send = channel.send.bind(channel);
  channel.send = (data) => send(asBuffer(data));
  return channel;
};

// Loopback only: werift skips loopback when it lists interfaces, so it is named as the one
// interface address and as an extra host address.
class LoopbackPeerConnection extends RTCPeerConnection {
  constructor() {
    super({
      iceServers: [],
      iceUseIpv6: false,
      iceInterfaceAddresses: { udp4: '127.0.0.1' },
      iceAdditionalHostAddresses: ['127.0.0.1'],
    });
    const created = this.createDataChannel.bind(this);
    this.createDataChannel = (label, init) => wrapChannel(created(label, init));
  }

  set ondatachannel(handler) {
    super.ondatachannel = handler && ((event) => handler({ channel: wrapChannel(event.channel) }));
  }

  get ondatachannel() {
    return super.ondatachannel;
  }
}

const failures = await runPeer({
  RTCPeerConnection: LoopbackPeerConnection,
  WebSocket,
  server: args.server,
  lobby: args.lobby,
  offer: args.offer === 'yes',
  closer: args.closer === 'yes',
  config: {},
  seesRemoteReliability: true,
  log: (line) => console.log(line),
});
process.exit(failures === 0 ? 0 : 1);
