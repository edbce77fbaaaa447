# Sums the numbers on stdin (whitespace separated, any number per line),
# then echoes the command-line arguments.
import sys


def number(word):
    try:
        return int(word)
    except ValueError:
        return float(word)


print(sum(number(w) for w in sys.stdin.read().split()))
print("args:" + "".join(" " + a for a in sys.argv[1:]))
