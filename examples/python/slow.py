# Sleeps (1 second, or the number of seconds given as the first argument),
# then prints "done". Handy for watching jobs spread over a cluster.
import sys
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
time.sleep(seconds)
print("done")
