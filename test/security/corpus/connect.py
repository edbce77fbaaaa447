import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=2)
    print("connected to", host)
except OSError as e:
    print(f"connect {host}:{port} failed: {e}")
