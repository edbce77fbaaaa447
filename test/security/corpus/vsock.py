import socket
try:
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.connect((2, 5001))
    print("vsock connect to the host: connected")
except OSError as e:
    print(f"vsock socket: {e.strerror}")
