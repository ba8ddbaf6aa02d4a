# closures: counter closures called many times (same algorithm as closures.tl).
def make_counter(step):
    n = 0

    def counter():
        nonlocal n
        n += step
        return n

    return counter


def run(iters):
    a = make_counter(1)
    b = make_counter(7)
    twice = lambda f: f() + f()
    s = 0
    for i in range(0, iters):
        s += a() % 10 + b() % 13
        if i % 100 == 0:
            s += twice(a)
    return s


print(run(200_000))
