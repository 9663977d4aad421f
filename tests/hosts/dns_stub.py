"""A DNS server for tests that never resolves anything: it either drops every query (a resolver
that never answers) or answers each one with NXDOMAIN after a delay (a slow one).

    python3 dns_stub.py --listen 127.0.0.53 (--drop | --delay SECONDS)

It prints "listening" once the socket is bound, then one line per query.
"""
import argparse
import socket
import threading


def nxdomain(query: bytes) -> bytes:
    # Same id and question; flags: response, recursion desired and available, NXDOMAIN.
    header = query[:2] + b"\x81\x83" + query[4:6] + b"\x00\x00\x00\x00\x00\x00"
    return header + query[12:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.53")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--drop", action="store_true")
    mode.add_argument("--delay", type=float)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.listen, 53))
    print("listening", flush=True)
    while True:
        query, client = sock.recvfrom(4096)
        print(f"query of {len(query)} bytes from {client[0]}", flush=True)
        if args.drop or len(query) < 12:
            continue
        timer = threading.Timer(args.delay, sock.sendto, (nxdomain(query), client))
        timer.daemon = True
        timer.start()


if __name__ == "__main__":
    main()
