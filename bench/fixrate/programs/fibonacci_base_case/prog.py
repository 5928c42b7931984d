"""Fibonacci numbers: fib(0) = 0, fib(1) = 1, fib(n) = fib(n-1) + fib(n-2)."""


def fib(n):
    """The n-th Fibonacci number, with fib(0) == 0 and fib(1) == 1."""
    if n <= 1:
        return 1
    return fib(n - 1) + fib(n - 2)


if __name__ == "__main__":
    print([fib(i) for i in range(8)])
