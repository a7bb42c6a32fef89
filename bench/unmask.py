"""Unmasking a 64 KiB client frame: C helper vs. big-integer XOR vs. a byte loop."""
import os, timeit, sys
data = os.urandom(65536); mask = os.urandom(4)
def xor_int(data, mask):
    n = len(data)
    m = int.from_bytes(mask * (n // 4 + 1), "big") >> (8 * (4 - n % 4)) if n % 4 else int.from_bytes(mask * (n // 4), "big")
    return (int.from_bytes(data, "big") ^ m).to_bytes(n, "big")
def xor_int2(data, mask):
    n = len(data)
    full = (mask * ((n + 3) // 4))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(full, "little")).to_bytes(n, "little")
from websockets.speedups import apply_mask
def loop(data, mask):
    return bytes(b ^ mask[i & 3] for i, b in enumerate(data))
ref = loop(data, mask)
assert xor_int(data, mask) == ref and xor_int2(data, mask) == ref and apply_mask(data, mask) == ref
for name, f, n in [("int_from_bytes", xor_int2, 2000), ("websockets.speedups", apply_mask, 20000), ("python loop", loop, 20)]:
    t = min(timeit.repeat(lambda: f(data, mask), number=n, repeat=3)) / n
    print(f"{name}: {t*1e6:.1f} us per 64KiB")
small = os.urandom(30)
for name, f, n in [("int_from_bytes", xor_int2, 200000), ("websockets.speedups", apply_mask, 200000)]:
    t = min(timeit.repeat(lambda: f(small, mask), number=n, repeat=3)) / n
    print(f"{name} 30B: {t*1e9:.0f} ns")
