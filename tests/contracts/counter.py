# A test contract exercising storage, scans, events, loops and failures.

def init(start):
    storage.set("count", start)


def incr(n):
    require(n >= 0, "negative increment")
    count = storage.get("count", 0) + n
    storage.set("count", count)
    emit("Incr", {"by": n, "count": count, "who": chain.caller})
    return count


def put(key, value):
    storage.set("k:" + key, value)


def drop(key):
    storage.delete("k:" + key)


def total():
    s = 0
    for item in storage.scan("k:", None, 1000):
        s = s + item[1]
    return s


def spin(n):
    i = 0
    while i < n:
        i = i + 1
    return i


def fail_after_write(key):
    storage.set("k:" + key, 999)
    require(False, "always fails")


def get():
    return storage.get("count", 0)
