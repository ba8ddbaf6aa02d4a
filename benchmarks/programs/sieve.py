# sieve: the sieve of Eratosthenes (same algorithm as sieve.tl).
def sieve(n):
    flags = []
    for i in range(0, n + 1):
        flags.append(True)
    flags[0] = False
    flags[1] = False
    i = 2
    while i * i <= n:
        if flags[i]:
            j = i * i
            while j <= n:
                flags[j] = False
                j += i
        i += 1
    count = 0
    last = 0
    for k in range(0, n + 1):
        if flags[k]:
            count += 1
            last = k
    return count * 1_000_000 + last


print(sieve(400_000))
