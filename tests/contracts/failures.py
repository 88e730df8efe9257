"""Fails on demand with each kind of VM error, and succeeds with values whose text, order and
hashing CPython could make version-dependent: the mixed-version consortium's probe
(tests/test_mixed_versions.py)."""

P = 2305843009213693951   # 2**61 - 1: the ints k * P share one hash


def values(n):
    text = "ÄbC " + str(-(2 ** 255) + n) + " " + bytes("0xff00").hex() + f" {n} {'q'}"
    ranked = sorted([[3, "b"], [1, "z"], [3, "a"], [2, "y"]], key=lambda pair: pair[0])
    counts = {}
    for word in text.lower().split():
        counts[word] = counts.get(word, 0) + 1
    emit("Values", {"text": text.upper(), "ranked": ranked, "counts": counts,
                    "digest": crypto.sha256(text.encode()).hex(), "keys": {(n, None): True, (n, "a"): False}})
    return [text, ranked, list(counts.items()), divmod(-7, 2), int("-0x1f", 16), max(ranked)]


def spin(n):
    while n >= 0:
        n += 1
    return n


def hoard():
    return len(range(45000000))


def collide():
    d = {}
    for k in range(9):
        d[k * P] = k
    return len(d)


def insist():
    require(False, "asked to fail")


def give_up():
    revert("asked to revert")


def divide(n):
    return 1 // n


def index(n):
    return [1, 2][n]


def lookup(key):
    return {"a": 1}[key]


def parse(text):
    return int(text)


def unpack(items):
    a, b = items
    return a + b


def unbound(flag):
    if flag:
        x = 1
    return x


def add(a, b):
    return a + b


def order(a, b):
    return a < b


def grow(n):
    return 2 ** n


def dive(n):
    return dive(n + 1)


def nest(n):
    value = []
    for i in range(n):
        value = [value]
    return value


def big(n):
    return "x" * n


def shout(n):
    for i in range(n):
        emit("Loud", {"i": i, "text": "x" * 60000})


def relay(targets):
    if len(targets) == 0:
        return chain.self
    return call(targets[0], "relay", targets[1:])


def again():
    return call(chain.self, "again")


def nowhere():
    return call("0x" + "00" * 20, "relay", [])


def _hidden():
    return 1


def write():
    storage.set("k", 1)
