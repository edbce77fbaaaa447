import sys
while True:
    sys.stderr.write("€ü" * 1000)
