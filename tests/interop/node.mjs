// Runs peer.mjs in Node on libdatachannel (npm node-datachannel), the engine inside
// godotengine/webrtc-native: `node node.mjs --server=URL --lobby=NAME --offer=yes|no --closer=yes|no`.
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import nodeDataChannel from 'node-datachannel';
import WebSocket from 'ws';
import { runPeer } from './peer.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, ...rest] = arg.replace(/^--/, '').split('=');
    return [key, rest.join('=')];
  }),
);
// The polyfill reads a channel's id once, at creation, when an in-band channel has none yet;
// keep the native channels so the scenario can ask libdatachannel for the id it settled on.
// Loopback only, no multicast: libdatachannel binds its ICE sockets to bindAddress.
const nativeChannels = new Map();
const native = new Proxy(new nodeDataChannel.PeerConnection('interop', { iceServers: [], bindAddress: '127.0.0.1' }), {
  get(target, property) {
    if (property === 'createDataChannel') {
      return (label, init) => {
        const channel = target.createDataChannel(label, init);
        nativeChannels.set(label, channel);
        return channel;
      };
    }
    const value = Reflect.get(target, property);
    return typeof value === 'function' ? value.bind(target) : value;
  },
});
const failures = await runPeer({
  RTCPeerConnection,
  WebSocket,
  server: args.server,
  lobby: args.lobby,
  offer: args.offer === 'yes',
  closer: args.closer === 'yes',
  config: { iceServers: [], peerConnection: native },
  seesRemoteReliability: false,
  channelId: (channel) => nativeChannels.get(channel.label)?.getId() ?? channel.id,
  log: (line) => console.log(line),
});
nodeDataChannel.cleanup();
process.exit(failures === 0 ? 0 : 1);
