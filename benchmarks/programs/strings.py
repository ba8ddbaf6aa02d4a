# strings: string building (same algorithm as strings.tl).
def build(n):
    parts = []
    total = 0
    hits = 0
    for i in range(0, n):
        s = ""
        for j in range(0, 8):
            s = s + str(i * j % 10)
        line = f"row {i}: {s} [{len(s) + i % 3}]"
        if "77" in line:
            hits += 1
        parts.append(line)
        total += len(line)
    text = "\n".join(parts)
    return f"{total} {hits} {len(text)} {parts[n - 1]}"


print(build(30_000))
