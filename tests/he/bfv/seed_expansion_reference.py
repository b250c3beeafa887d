#!/usr/bin/env python3
"""Independent reference for seed_expansion_test.cpp: recomputes the pinned values of seed
expansion (32-byte seed -> ChaCha20-IETF keystream -> uniform mod q by rejection of 64-bit
little-endian words masked to bit_length(q)) with Python's `cryptography` package, not our code.
Prng(seed, domain): key = seed, 12-byte nonce = domain (u64 little-endian) + 4 zero bytes, block
counter from 0. Run: python3 tests/he/bfv/seed_expansion_reference.py"""
import hashlib
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms


def is_prime(n):
    if n < 2:
        return False
    bases = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
    for p in bases:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def ntt_primes_below(bits, log_n, count):
    """The largest primes p = 1 (mod 2N) below 2^bits, largest first (he::ntt_primes_below)."""
    m = 2 << log_n
    p, out = ((1 << bits) - 1) // m * m + 1, []
    while len(out) < count:
        if is_prime(p):
            out.append(p)
        p -= m
    return out


def keystream(seed, domain, nbytes):
    nonce = struct.pack("<I", 0) + struct.pack("<Q", domain) + bytes(4)  # counter || IETF nonce
    return Cipher(algorithms.ChaCha20(seed, nonce), mode=None).encryptor().update(bytes(nbytes))


def uniform(ks, pos, q, n):
    mask, out = (1 << q.bit_length()) - 1, []
    while len(out) < n:
        r = struct.unpack_from("<Q", ks, pos)[0] & mask
        pos += 8
        if r < q:
            out.append(r)
    return out, pos


def sha256_u64(values):
    return hashlib.sha256(b"".join(struct.pack("<Q", v) for v in values)).hexdigest()


def main():
    print("RFC 8439 A.1 #1:", keystream(bytes(32), 0, 64).hex())
    seed = bytes(range(32))
    q = ntt_primes_below(50, 12, 1)[0]
    v, _ = uniform(keystream(seed, 1, 1 << 16), 0, q, 4096)
    print("N=4096, q =", q, "domain 1:", v[:3], sha256_u64(v))
    qs = ntt_primes_below(40, 6, 3)  # tiny_insecure_params(): N = 64, three 40-bit primes (t = 257)
    ks, pos, rows = keystream(seed, 2, 1 << 16), 0, []
    for qi in qs:
        r, pos = uniform(ks, pos, qi, 64)
        rows += r
    print("N=64, q =", qs, "domain 2:", rows[0], rows[3], rows[64], rows[66], rows[-1], sha256_u64(rows))


if __name__ == "__main__":
    main()
