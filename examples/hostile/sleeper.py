# HOSTILE: uses no CPU but never finishes (sleeps an hour). Only a wall-clock
# limit stops it (expected status: time_limit).
import time

print("going to sleep", flush=True)
time.sleep(3600)
print("woke up: the wall-clock limit did not work")
