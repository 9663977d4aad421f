"""The remote side of one interop run on aiortc (PyPI), mirroring peer.mjs:

    python aiortc_peer.py --server=URL --lobby=NAME --offer=yes|no --closer=yes|no

Prints one "CHECK <name> PASS|FAIL <detail>" line per check; exits 0 when all passed.
"""

import asyncio
import hashlib
import json
import sys
import time

import aioice.ice
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

BULK_MESSAGES = 64
BULK_SIZE = 16384
LOSSY_MESSAGES = 20
TEXT = "text from the other side ✓"
BINARY = bytes([0, 1, 2, 128, 255])

# Loopback only: aioice gathers on every interface (and skips 127.0.0.1) by default.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


def bulk_message(i: int) -> bytes:
    return bytes((i * 7 + j) % 256 for j in range(BULK_SIZE))


def is_loopback_candidate(line: str) -> bool:
    fields = line.removeprefix("a=").split()
    return len(fields) > 4 and fields[4].startswith("127.")


def loopback_only(sdp: str) -> str:
    return "\r\n".join(
        line
        for line in sdp.split("\r\n")
        if not line.startswith("a=candidate:") or is_loopback_candidate(line)
    )


async def until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


class Peer:
    def __init__(self, offer: bool, closer: bool):
        self.offer = offer
        self.closer = closer
        self.failures = 0
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channels = {}
        self.ctl_inbox = []
        self.remote_ids = None
        self.text = False
        self.binary = False
        self.bulk = []
        self.bulk_in_order = True
        self.lossy = 0
        self.pc.on("datachannel", self.wire)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        print(f"CHECK {name} {'PASS' if ok else 'FAIL'} {detail}", flush=True)
        if not ok:
            self.failures += 1

    def wire(self, channel) -> None:
        self.channels[channel.label] = channel

        @channel.on("message")
        def on_message(data):
            is_text = isinstance(data, str)
            if channel.label == "interop-ctl":
                message = json.loads(data)
                self.ctl_inbox.append(message)
                if message.get("op") == "ids":
                    self.remote_ids = message
            elif channel.label == "interop-neg":
                if is_text and data == TEXT:
                    self.text = True
                elif not is_text and data == BINARY:
                    self.binary = True
                else:
                    print(f"unexpected message on interop-neg: {data!r}", flush=True)
            elif channel.label == "interop-inband":
                expected_first = (len(self.bulk) * 7) % 256
                if is_text or len(data) != BULK_SIZE or data[0] != expected_first:
                    self.bulk_in_order = False
                self.bulk.append(data.encode() if is_text else data)
            elif channel.label == "interop-lossy":
                self.lossy += 1

    def create_channels(self) -> None:
        pc = self.pc
        self.wire(pc.createDataChannel("interop-ctl", negotiated=True, id=0))
        self.wire(pc.createDataChannel("interop-neg", negotiated=True, id=1))
        if self.offer:
            self.wire(pc.createDataChannel("interop-inband", protocol="interop-proto"))
            self.wire(pc.createDataChannel("interop-lossy", ordered=False, maxRetransmits=0))

    def is_open(self, label: str) -> bool:
        channel = self.channels.get(label)
        return channel is not None and channel.readyState == "open"

    async def run(self, server: str, lobby: str) -> int:
        async with websockets.connect(server) as ws:
            signaling = asyncio.create_task(self.signal(ws, lobby))
            try:
                return await self.scenario()
            finally:
                signaling.cancel()
                await self.pc.close()

    async def signal(self, ws, lobby: str) -> None:
        pending = []
        remote = 0

        async def send_description():
            description = self.pc.localDescription
            await ws.send(
                json.dumps(
                    {"type": description.type, "to": remote, "sdp": loopback_only(description.sdp)}
                )
            )

        await ws.send(json.dumps({"type": "join", "lobby": lobby, "mesh": True}))
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "joined":
                remote = message["peers"][0]
                if self.offer:
                    self.create_channels()
                    await self.pc.setLocalDescription(await self.pc.createOffer())
                    await send_description()
            elif kind in ("offer", "answer"):
                await self.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=message["sdp"], type=kind)
                )
                if kind == "offer":
                    self.create_channels()
                    await self.pc.setLocalDescription(await self.pc.createAnswer())
                    await send_description()
                for candidate in pending:
                    await self.pc.addIceCandidate(candidate)
                pending.clear()
            elif kind == "candidate":
                candidate = candidate_from_sdp(message["name"].removeprefix("candidate:"))
                candidate.sdpMid = message["media"]
                candidate.sdpMLineIndex = message["index"]
                if self.pc.remoteDescription is None:
                    pending.append(candidate)
                else:
                    await self.pc.addIceCandidate(candidate)
            elif kind == "error":
                print(f"signaling error: {message['message']}", flush=True)

    async def scenario(self) -> int:
        labels = ["interop-ctl", "interop-neg", "interop-inband", "interop-lossy"]
        opened = await until(lambda: all(self.is_open(label) for label in labels), 20.0)
        self.check("connect", opened, f"state={self.pc.connectionState}")
        if not opened:
            return self.failures
        ctl, neg, inband, lossy = (self.channels[label] for label in labels)

        def send_ctl(message):
            ctl.send(json.dumps(message))

        if self.offer:
            send_ctl({"op": "ids", "inband": inband.id, "lossy": lossy.id})
        else:
            await until(lambda: self.remote_ids is not None, 10.0)
            ids = self.remote_ids or {}
            self.check(
                "inband_seen",
                inband.label == "interop-inband"
                and inband.protocol == "interop-proto"
                and inband.ordered
                and not inband.negotiated
                and inband.id == ids.get("inband"),
                f"label={inband.label} protocol={inband.protocol} ordered={inband.ordered} "
                f"id={inband.id} (remote says {ids.get('inband')})",
            )
            self.check(
                "lossy_seen",
                lossy.label == "interop-lossy"
                and not lossy.ordered
                and lossy.maxRetransmits == 0
                and lossy.id == ids.get("lossy"),
                f"ordered={lossy.ordered} maxRetransmits={lossy.maxRetransmits} id={lossy.id}",
            )

        neg.send(TEXT)
        neg.send(BINARY)
        for i in range(BULK_MESSAGES):
            inband.send(bulk_message(i))
        # As on the Godot side: the datagrams go once the bulk has left, not in one packet
        # behind it.
        await until(lambda: inband.bufferedAmount == 0, 30.0)
        for i in range(LOSSY_MESSAGES):
            lossy.send(f"lossy {i}")

        received = await until(
            lambda: self.text and self.binary and len(self.bulk) == BULK_MESSAGES, 30.0
        )
        await until(lambda: self.lossy == LOSSY_MESSAGES, 2.0)
        self.check("text", self.text, "text arrived as str")
        self.check("binary", self.binary, "binary arrived as bytes")
        expected = hashlib.sha256(b"".join(bulk_message(i) for i in range(BULK_MESSAGES)))
        digest = hashlib.sha256(b"".join(self.bulk)).hexdigest()
        self.check(
            "bulk_1mib",
            len(self.bulk) == BULK_MESSAGES
            and self.bulk_in_order
            and digest == expected.hexdigest(),
            f"{len(self.bulk)} of {BULK_MESSAGES} messages, sha256 {digest[:16]}",
        )
        self.check(
            "unordered_lossy",
            self.lossy > 0 and not lossy.ordered,
            f"{self.lossy} of {LOSSY_MESSAGES} datagrams",
        )
        send_ctl({"op": "done"})
        if not received:
            self.check("run", False, "not everything arrived")
            return self.failures
        await until(lambda: any(m.get("op") == "done" for m in self.ctl_inbox), 20.0)

        if self.closer:
            inband.close()
            seen = await until(lambda: any(m.get("op") == "saw_close" for m in self.ctl_inbox), 10.0)
            self.check("remote_saw_channel_close", seen, "the remote acknowledged our channel close")
            await self.pc.close()
        else:
            closed = await until(lambda: inband.readyState == "closed", 10.0)
            self.check("channel_close_seen", closed, f"readyState={inband.readyState}")
            send_ctl({"op": "saw_close"})
            gone = await until(
                lambda: self.pc.connectionState in ("closed", "disconnected", "failed"), 20.0
            )
            self.check("connection_close_seen", gone, f"connectionState={self.pc.connectionState}")
        return self.failures


def main() -> int:
    args = dict(arg.removeprefix("--").split("=", 1) for arg in sys.argv[1:])
    peer = Peer(offer=args["offer"] == "yes", closer=args["closer"] == "yes")
    failures = asyncio.run(peer.run(args["server"], args["lobby"]))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
