# A syntax error: the call is never closed, so `python3 -m py_compile` rejects it.
def greet(name):
    print("Hello, " + name

greet("world")
