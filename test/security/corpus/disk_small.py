i = 0
while True:
    with open(f"/tmp/f{i}", "wb") as f:
        f.write(b"x" * 4096)
    i += 1
