fds = []
try:
    while True:
        fds.append(open("/dev/null"))
except OSError as e:
    print(f"{len(fds)} fds, then {e.strerror}")
