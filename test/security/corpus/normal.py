import sys
print("normal", sum(int(x) for x in sys.argv[1:]))
