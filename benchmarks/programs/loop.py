# loop: a nested integer loop (same algorithm as loop.tl).
def run():
    s = 0
    for i in range(0, 3000):
        for j in range(0, 1000):
            s = s + i * j % 7
    return s


print(run())
