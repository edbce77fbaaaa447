# Entry point of a two-file program: imports helper.py from the same directory.
from helper import greet, square

print(greet("world"))
print("7 squared is", square(7))
