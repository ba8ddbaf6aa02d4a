# float: Mandelbrot escape counts and a midpoint-rule integral (same as float.tl).
def mandel(w, h, max_iter):
    total = 0
    for py in range(0, h):
        ci = float(py) * 2.0 / float(h) - 1.0
        for px in range(0, w):
            cr = float(px) * 3.0 / float(w) - 2.0
            zr = 0.0
            zi = 0.0
            i = 0
            while i < max_iter and zr * zr + zi * zi <= 4.0:
                t = zr * zr - zi * zi + cr
                zi = 2.0 * zr * zi + ci
                zr = t
                i += 1
            total += i
    return total


def integrate(n):
    h = 1.0 / float(n)
    sum_ = 0.0
    for k in range(0, n):
        x = (float(k) + 0.5) * h
        sum_ += 4.0 / (1.0 + x * x)
    return sum_ * h


print(mandel(120, 60, 80))
print(integrate(100_000))
