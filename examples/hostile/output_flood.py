# HOSTILE: writes output as fast as it can, forever. The output limit must
# stop it and keep only the first bytes (expected status: output_limit).
import sys

line = "flood " * 20 + "\n"
while True:
    sys.stdout.write(line)
