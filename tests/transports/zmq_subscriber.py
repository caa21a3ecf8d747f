"""A separate-process ZeroMQ subscriber for the interop tests (uses only pyzmq and msgpack).

Usage: python zmq_subscriber.py ENDPOINT TOPIC MODE COUNT_OR_WAIT
MODE "all": receive until a frame with seq == COUNT-1 arrives, print the distinct seqs as JSON.
MODE "conflate": CONFLATE=1 subscriber; prints "ready", waits for a line on stdin, then reads the one
newest message and prints its payload as JSON.
"""

from __future__ import annotations

import json
import sys

import msgpack
import zmq


def main() -> int:
    endpoint, topic, mode, arg = sys.argv[1:5]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    if mode == "conflate":
        sock.setsockopt(zmq.CONFLATE, 1)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.setsockopt(zmq.SUBSCRIBE, topic.encode() + b"\0")
    sock.connect(endpoint)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if mode == "all":
        last = int(arg) - 1
        seqs = []
        while True:
            data = sock.recv()
            seq = msgpack.unpackb(data.partition(b"\0")[2], raw=False)["seq"]
            if not seqs:
                sys.stdout.write("subscribed\n")  # the publisher repeats seq 0 until it sees this
                sys.stdout.flush()
            if not seqs or seq != seqs[-1]:
                seqs.append(seq)
            if seq == last:
                break
        sys.stdout.write(json.dumps(seqs) + "\n")
    else:
        sys.stdin.readline()
        data = sock.recv()
        topic_got, _, payload = data.partition(b"\0")
        out = msgpack.unpackb(payload, raw=False)
        out["_topic"] = topic_got.decode()
        sys.stdout.write(json.dumps(out) + "\n")
    sock.close(linger=0)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
