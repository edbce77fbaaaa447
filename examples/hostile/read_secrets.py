# HOSTILE (probe): tries to read things a job must not see: /etc/shadow, the
# /root directory and the environment of PID 1 (/proc/1/environ). It only
# prints whether each attempt worked (and how much it got), never the contents.
import os

def attempt(label, action):
    try:
        result = action()
        print(f"{label}: READABLE ({result})")
    except OSError as e:
        print(f"{label}: blocked: {e.__class__.__name__}: {e.strerror}")

def head(path):
    with open(path, "rb") as f:
        data = f.read(4096)
    return f"read {len(data)} bytes"

attempt("/etc/shadow", lambda: head("/etc/shadow"))
attempt("/root", lambda: f"{len(os.listdir('/root'))} entries")
attempt("/proc/1/environ", lambda: head("/proc/1/environ"))
