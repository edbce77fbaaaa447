# HOSTILE: allocates memory until something stops it, 64 MiB at a time.
# The memory limit must end it (expected status: memory_limit), not the host's
# OOM killer. NEVER run this outside a sandbox.
hog = []
while True:
    hog.append(bytearray(64 * 1024 * 1024))  # bytearray pages are really touched
    print(f"holding {len(hog) * 64} MiB", flush=True)
