#!/usr/bin/python3
"""Peers for tests/e2e/test_sink_limits.sh.

    sink_peers.py udp-count PORT FILE      count the lines of every datagram to 127.0.0.1:PORT
                                           (a 16 MB receive buffer: it loses nothing); FILE holds
                                           "DATAGRAMS LINES" and is rewritten as they come
    sink_peers.py tcp-flood PORT FILE      accept TCP connections and send to each as fast as it
                                           takes; FILE holds the bytes the kernel accepted so far
    sink_peers.py tcp-count PORT FILE      accept TCP connections, read everything, FILE holds
                                           the lines read so far
Runs until killed.
"""
import os
import socket
import sys
import threading

mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
total = [0, 0]


def publish():
    with open(out + ".tmp", "w") as f:
        f.write("%d %d\n" % (total[0], total[1]))
    os.replace(out + ".tmp", out)


publish()
if mode == "udp-count":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    SO_RCVBUFFORCE = 33
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.2)
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            publish()
            continue
        total[0] += 1
        total[1] += d.count(b"\n")
        if total[0] % 16 == 0:
            publish()

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)


def flood(conn):
    chunk = b"x" * 65536
    while True:
        try:
            n = conn.send(chunk)
        except OSError:
            return
        with lock:
            total[0] += n
            publish()


def count(conn):
    while True:
        try:
            d = conn.recv(1 << 20)
        except OSError:
            return
        if not d:
            return
        with lock:
            total[0] += d.count(b"\n")
            publish()


while True:
    conn, _ = srv.accept()
    threading.Thread(target=flood if mode == "tcp-flood" else count, args=(conn,), daemon=True).start()
