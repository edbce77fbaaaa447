# HOSTILE (probe): tries to open TCP connections, one to 127.0.0.1:<port>
# (port from the first argument, default 80; e.g. a meshrun node's port) and
# one to 1.1.1.1:80 on the internet. It only tries, and prints what happened.
# In a sandbox without network both attempts should fail.
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 80
for host, p in (("127.0.0.1", port), ("1.1.1.1", 80)):
    try:
        with socket.create_connection((host, p), timeout=3):
            print(f"{host}:{p} CONNECTED (network is reachable)")
    except OSError as e:
        print(f"{host}:{p} blocked: {e.__class__.__name__}: {e}")
