def greet(name: str) -> str:
    return f"Hello, {name}!"


def square(n: int) -> int:
    return n * n
