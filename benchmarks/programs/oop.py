# oop: method-call-heavy object code (same algorithm as oop.tl).
class Vec:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def add(self, o):
        return Vec(self.x + o.x, self.y + o.y)

    def dot(self, o):
        return self.x * o.x + self.y * o.y

    def manhattan(self):
        return abs(self.x) + abs(self.y)


class Body:
    def __init__(self, pos, vel):
        self.pos = pos
        self.vel = vel

    def step(self):
        self.pos = self.pos.add(self.vel)

    def bounce(self):
        self.vel = Vec(-self.vel.x, -self.vel.y)

    def energy(self):
        return self.vel.dot(self.vel)


def simulate(n, steps):
    bodies = []
    for i in range(0, n):
        bodies.append(Body(Vec(i, 2 * i), Vec(i % 7 - 3, i % 5 - 2)))
    check = 0
    for s in range(0, steps):
        for b in bodies:
            b.step()
            if b.pos.manhattan() > 500:
                b.bounce()
            check += b.energy() + b.pos.manhattan()
    return check


print(simulate(100, 800))
