#!/usr/bin/python3
"""A misbehaving TCP line receiver on 127.0.0.1 for tests/e2e/test_faults.sh.

    fault_peer.py MODE PORT DIR [RATE]

MODE:
  record  accept every connection, read everything at once
  reset   accept, then close at once with SO_LINGER 0 (the client sees a reset)
  stall   accept with a small receive buffer and never read (the window closes)
  slow    read RATE bytes a second (default 2000), with a small receive buffer, until
          DIR/fast exists: then at full speed

Each connection's bytes go to DIR/conn.N (N from 1, in accept order), written as they
arrive, so a test can check that every connection carries only whole lines; DIR/done.N
appears once the client closed it. DIR/accepts holds the number of connections accepted so
far. Runs until killed.
"""
import os
import socket
import sys
import threading
import time

mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rate = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
os.makedirs(out, exist_ok=True)
lock = threading.Lock()
accepted = 0
held = []  # stalled connections stay open (and unread) until we are killed

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if mode in ("stall", "slow"):
    # Set on the listener so accepted sockets inherit it before the handshake: the window
    # the client sees stays small, and a stalled peer fills up after a few KB, not MBs.
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # A small MSS too: the client sizes its send buffer from it (two initial windows of
    # segments), and loopback's 64 KB MSS would let its kernel absorb over a megabyte.
    srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
srv.bind(("127.0.0.1", port))
srv.listen(16)


def serve(conn, n):
    path = os.path.join(out, "conn.%d" % n)
    with open(path, "wb", buffering=0) as f:
        while True:
            slow = mode == "slow" and not os.path.exists(os.path.join(out, "fast"))
            want = max(1, rate // 10) if slow else 65536
            try:
                data = conn.recv(want)
            except OSError:
                break
            if not data:
                break
            f.write(data)
            if slow:
                time.sleep(0.1)
    conn.close()
    open(os.path.join(out, "done.%d" % n), "w").close()


while True:
    conn, _ = srv.accept()
    with lock:
        accepted += 1
        n = accepted
    with open(os.path.join(out, "accepts.tmp"), "w") as f:
        f.write("%d\n" % n)
    os.replace(os.path.join(out, "accepts.tmp"), os.path.join(out, "accepts"))
    if mode == "reset":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
    elif mode == "stall":
        held.append(conn)
    else:
        threading.Thread(target=serve, args=(conn, n), daemon=True).start()
