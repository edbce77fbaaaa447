import sys
total = 0
for _ in range(1000):
    total += len(sys.stdin.buffer.read())
print(f"eof after {total} bytes")
