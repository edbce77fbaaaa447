import sys
for p in sys.argv[1:]:
    try:
        with open(p, "w") as f:
            f.write("meshrun was here\n")
        print(f"{p}: written")
    except OSError as e:
        print(f"{p}: denied ({e.strerror})")
