import os, sys
for p in sys.argv[1:]:
    try:
        if os.path.isdir(p):
            print(f"{p}: listed", *os.listdir(p))
        else:
            print(f"{p}: read", open(p, "rb").read(4096).replace(b"\0", b" ").decode(errors="replace"))
    except OSError as e:
        print(f"{p}: denied ({e.strerror})")
