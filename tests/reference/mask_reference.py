#!/usr/bin/env python3
"""Independent reference implementation of docs/FORMAT.md (PICRYPT container v1, mask scheme).

Written from the specification text alone, without reading the Rust sources, and used as a
cross-check of both the document and the Rust implementation:

    python3 tests/reference/mask_reference.py                          # known-answer vectors
    python3 tests/reference/mask_reference.py --picrypt target/debug/picrypt   # + Rust binary

Needs `pip install blake3 pycryptodome`. Prints "N passed, M failed"; exits 1 on any failure.
"""
import argparse, ast, json, os, random, struct, subprocess, sys, tempfile, zlib
from dataclasses import dataclass, replace
from pathlib import Path

from blake3 import blake3
from Crypto.Cipher import ChaCha20

MAGIC, KEY_MAGIC = b"PICRYPT\0", b"PICRYPTK"
HEADER = struct.Struct("<8sBBBBIIBBHii16sQIQ")  # 68 bytes, little endian
P = (1 << 61) - 1
MAX_N, MAX_TERMS, MAX_EXT = 1 << 28, 32, 4096
CTX = "picrypt 2026-11-26 mask v1 "
KAT = Path(__file__).resolve().parents[2] / "core/tests/vectors/mask_kat.json"


# ---------------------------------------------------------------- container
@dataclass
class Container:
    width: int; height: int; channels: int; modulus_bits: int
    terms: list          # [(24-byte nonce, +1 | -1)]
    range_min: int; range_max: int
    key_id: bytes; tag: int
    samples: list        # n residues mod 2^k, row-major HWC
    scheme: int = 1; sample_bits: int = 8; flags: int = 1; ext: bytes = b""

    @property
    def n(self): return self.width * self.height * self.channels


def pack(values, k):
    acc = sum((v % (1 << k)) << (i * k) for i, v in enumerate(values))  # LE bit stream
    return acc.to_bytes((len(values) * k + 7) // 8, "little")


def unpack(data, k, n):
    acc = int.from_bytes(data, "little")
    return [(acc >> (i * k)) & ((1 << k) - 1) for i in range(n)]


def range_ok(lo, hi, k):
    return lo <= hi and hi - lo < (1 << k) and lo > -(1 << k) and hi < (1 << k)


def encode(c: Container) -> bytes:
    payload = pack(c.samples, c.modulus_bits)
    head = HEADER.pack(MAGIC, 1, c.scheme, c.sample_bits, c.modulus_bits, c.width, c.height,
                       c.channels, c.flags, len(c.terms), c.range_min, c.range_max, c.key_id,
                       c.tag, len(c.ext), len(payload))
    return head + b"".join(nv + (b"\x01" if s > 0 else b"\xff") for nv, s in c.terms) + c.ext + payload


def parse(blob: bytes) -> Container:
    if len(blob) < HEADER.size:
        raise ValueError("truncated header")
    (magic, version, scheme, sbits, k, w, h, ch, flags, tc, lo, hi, kid, tag, ext_len,
     plen) = HEADER.unpack_from(blob)
    n = w * h * ch
    for bad, why in [(magic != MAGIC, "magic"), (version != 1, "version"),
                     (scheme != 1, "scheme"), (flags & ~1, "unknown flags"),
                     (not 1 <= ch <= 4, "channels"), (n == 0 or n > MAX_N, "sample count"),
                     (sbits != 8, "sample_bits"), (not 8 <= k <= 16, "modulus_bits"),
                     (not range_ok(lo, hi, k), "range"), (tc > MAX_TERMS, "too many terms"),
                     (ext_len > MAX_EXT, "extension too long"),
                     (plen != (n * k + 7) // 8, "payload_len"),
                     (len(blob) != HEADER.size + 25 * tc + ext_len + plen, "total length"),
                     # mask-specific header rules
                     (tc < 1, "no terms"), (not flags & 1, "tag flag clear"),
                     (tag >= P, "tag >= p"), (ext_len != 0, "mask extension")]:
        if bad:
            raise ValueError(why)
    terms, off = [], HEADER.size
    for _ in range(tc):
        sign = blob[off + 24]
        if sign not in (0x01, 0xFF):
            raise ValueError("sign byte")
        if any(nv == blob[off:off + 24] for nv, _ in terms):
            raise ValueError("repeated nonce")
        terms.append((blob[off:off + 24], 1 if sign == 1 else -1))
        off += 25
    plus = sum(s > 0 for _, s in terms)
    if (lo, hi) != (-255 * (tc - plus), 255 * plus):
        raise ValueError("range does not match terms")
    payload = blob[off + ext_len:]
    if int.from_bytes(payload, "little") >> (n * k):
        raise ValueError("nonzero padding bits")
    return Container(w, h, ch, k, terms, lo, hi, kid, tag, unpack(payload, k, n),
                     scheme, sbits, flags, blob[off:off + ext_len])


# ---------------------------------------------------------------- mask scheme
def derive(context, key): return blake3(key, derive_key_context=CTX + context).digest()
def key_id(key): return derive("key id", key)[:16]


def masks(key, nonce, n):
    ks = ChaCha20.new(key=derive("keystream subkey", key), nonce=nonce)  # XChaCha20, ctr 0
    return unpack(ks.encrypt(bytes((9 * n + 7) // 8)), 9, n)


def coefficients(key, count):
    ks = ChaCha20.new(key=derive("mac coefficient subkey", key), nonce=bytes(12)).encrypt(bytes(8 * count))
    return [int.from_bytes(ks[8 * j:8 * j + 8], "little") % P for j in range(count)]


def pad(key, nonce, c):
    msg = nonce + struct.pack("<BBIIB", c.sample_bits, c.modulus_bits, c.width, c.height, c.channels)
    return int.from_bytes(blake3(msg, key=derive("mac pad subkey", key)).digest(16), "little") % P


def mac(key, values, c):
    w = c.modulus_bits + 1
    s = 60 // w
    elems = [sum(v << (w * t) for t, v in enumerate(values[j:j + s])) % P
             for j in range(0, len(values), s)]
    acc = sum(cj * pj for cj, pj in zip(coefficients(key, len(elems)), elems))
    return (acc + sum(sign * pad(key, nv, c) for nv, sign in c.terms)) % P


def encrypt(key, pixels, width, height, channels, nonce):
    m = masks(key, nonce, len(pixels))
    c = Container(width, height, channels, 9, [(nonce, 1)], 0, 255, key_id(key), 0,
                  [(x + mi) % 512 for x, mi in zip(pixels, m)])
    c.tag = mac(key, pixels, c)
    return c


def subtract(a: Container, b: Container) -> Container:
    if (a.scheme, a.key_id, a.width, a.height, a.channels, a.sample_bits, a.modulus_bits) != \
       (b.scheme, b.key_id, b.width, b.height, b.channels, b.sample_bits, b.modulus_bits):
        raise ValueError("incompatible containers")
    lo, hi, k = a.range_min - b.range_max, a.range_max - b.range_min, a.modulus_bits
    if not range_ok(lo, hi, k) or len(a.terms) + len(b.terms) > MAX_TERMS:
        raise ValueError("range overflow or too many terms")
    if {nv for nv, _ in a.terms} & {nv for nv, _ in b.terms}:
        raise ValueError("A and B share a nonce")
    return replace(a, terms=a.terms + [(nv, -s) for nv, s in b.terms], range_min=lo, range_max=hi,
                   tag=(a.tag - b.tag) % P,
                   samples=[(x - y) % (1 << k) for x, y in zip(a.samples, b.samples)])


def decrypt(key, c: Container, expect=None):
    """expect: "image" (one + term), "difference" (terms +N1, -N2), or None (the range says)."""
    if key_id(key) != c.key_id:
        raise ValueError("wrong key")
    expect = expect or ("image" if (c.range_min, c.range_max) == (0, 255) else "difference")
    signs = [s for _, s in c.terms]
    if signs != {"image": [1], "difference": [1, -1]}[expect]:
        raise ValueError("verification failed")
    mod, r = 1 << c.modulus_bits, list(c.samples)
    for nonce, sign in c.terms:
        r = [(x - sign * m) % mod for x, m in zip(r, masks(key, nonce, c.n))]
    v = [c.range_min + (x - c.range_min) % mod for x in r]
    if any(x > c.range_max for x in v) or mac(key, v, c) != c.tag:  # (not constant time)
        raise ValueError("verification failed")
    return v


# ---------------------------------------------------------------- key files, .npy, PNG
def write_key(path, key):
    blob = KEY_MAGIC + bytes([1, 1, 1, 0]) + key_id(key) + struct.pack("<I", 32) + key
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(blob)


def read_key(path):
    blob = Path(path).read_bytes()
    magic, ver, scheme, kind, res, kid, blen = struct.unpack_from("<8sBBBB16sI", blob)
    if (magic, ver, scheme, kind, res) != (KEY_MAGIC, 1, 1, 1, 0) or blen != 32 or len(blob) != 64:
        raise ValueError("bad key file")
    if key_id(blob[32:]) != kid:
        raise ValueError("key id does not match key")
    return blob[32:]


def read_npy(path):
    blob = Path(path).read_bytes()
    if blob[:8] != b"\x93NUMPY\x01\x00":
        raise ValueError("not npy 1.0")
    hlen = struct.unpack_from("<H", blob, 8)[0]
    hdr = ast.literal_eval(blob[10:10 + hlen].decode("latin1"))
    fmt = {"<i2": "h", "|u1": "B"}[hdr["descr"]]
    data = blob[10 + hlen:]
    return hdr, (10 + hlen) % 64 == 0, list(struct.unpack(f"<{len(data) // struct.calcsize(fmt)}{fmt}", data))


def write_png(path, pixels, width, height, channels):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    row = width * channels
    raw = b"".join(b"\0" + bytes(pixels[y * row:(y + 1) * row]) for y in range(height))
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n"
                           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------- checks
class Checker:
    def __init__(self): self.passed = self.failed = 0

    def __call__(self, name, ok):
        if ok: self.passed += 1
        else: self.failed += 1; print("FAIL", name)

    def raises(self, name, fn):
        try: fn()
        except ValueError: return self(name, True)
        self(name + " (not refused)", False)


def check_kat(check):
    kat = json.loads(KAT.read_text())
    key = bytes.fromhex(kat["key_hex"])
    check("kat key id", key_id(key).hex() == kat["key_id_hex"])
    made = {}
    for e in kat["encryptions"]:
        pixels, want = bytes.fromhex(e["pixels_hex"]), bytes.fromhex(e["container_hex"])
        c = encrypt(key, list(pixels), e["width"], e["height"], e["channels"], bytes.fromhex(e["nonce_hex"]))
        made[e["name"]] = c
        check(f"kat encrypt {e['name']}", encode(c) == want)
        check(f"kat parse/encode {e['name']}", encode(parse(want)) == want)
        check(f"kat decrypt {e['name']}", decrypt(key, parse(want)) == list(pixels))
    sub = kat["subtraction"]
    want = bytes.fromhex(sub["result_hex"])
    d = subtract(made[sub["a"]], made[sub["b"]])
    check("kat subtraction bytes", encode(d) == want)
    check("kat subtraction decrypts", decrypt(key, parse(want)) == sub["difference"])
    check_refusals(check, key, want)


def check_refusals(check, key, good):
    def patched(off, fmt, value):
        b = bytearray(good); struct.pack_into(fmt, b, off, value); return bytes(b)
    for name, blob in [("magic", patched(0, "B", 0x51)), ("version", patched(8, "B", 2)),
                       ("scheme", patched(9, "B", 2)), ("sample_bits", patched(10, "B", 16)),
                       ("modulus_bits", patched(11, "B", 17)), ("zero width", patched(12, "<I", 0)),
                       ("huge n", patched(12, "<I", 1 << 27)), ("channels", patched(20, "B", 5)),
                       ("flags", patched(21, "B", 3)), ("tag flag", patched(21, "B", 0)),
                       ("terms", patched(22, "<H", 33)), ("range", patched(24, "<i", -512)),
                       ("tag >= p", patched(48, "<Q", P)), ("ext_len", patched(56, "<I", 1)),
                       ("payload_len", patched(60, "<Q", 1)), ("sign byte", patched(68 + 24, "B", 2)),
                       ("trailing byte", good + b"\0"), ("truncated", good[:-1]),
                       ("padding bits", patched(len(good) - 1, "B", good[-1] | 0x80))]:
        check.raises(f"refuse {name}", lambda blob=blob: parse(blob))
    d = parse(good)
    check.raises("refuse subtracting from a difference", lambda: subtract(d, d))
    # The zero forgery: terms +R, -R, zero payload, tag 0. A repeated nonce is malformed.
    forged = bytearray(good)
    forged[68:92] = forged[93:117] = b"\x42" * 24
    forged[68 + 50:] = bytes(len(forged) - 118)
    struct.pack_into("<Q", forged, 48, 0)
    check.raises("refuse repeated nonce (zero forgery)", lambda: parse(bytes(forged)))
    a = replace(d, terms=[d.terms[0]], range_min=0, range_max=255)
    check.raises("refuse A - A", lambda: subtract(a, a))
    # Not a difference: +A +B (range [0, 510]) and a lone -A, with whatever tag.
    plus = replace(d, terms=[(d.terms[0][0], 1), (d.terms[1][0], 1)], range_min=0, range_max=510)
    check.raises("refuse +A +B as a difference", lambda: decrypt(key, plus, "difference"))
    minus = replace(d, terms=[(d.terms[1][0], -1)], range_min=-255, range_max=0)
    check.raises("refuse -A as a difference", lambda: decrypt(key, minus, "difference"))
    check.raises("refuse a difference as an image", lambda: decrypt(key, d, "image"))
    check.raises("refuse bad tag", lambda: decrypt(key, replace(d, tag=(d.tag + 1) % P)))
    flipped = [d.samples[0] ^ 1] + d.samples[1:]
    check.raises("refuse tampered sample", lambda: decrypt(key, replace(d, samples=flipped)))
    check.raises("refuse wrong key", lambda: decrypt(bytes(32), d))


def safe(fn, *args):
    """fn(*args), or None when it refuses the input (so a bad Rust output is a failed check)."""
    try: return fn(*args)
    except (ValueError, KeyError, SyntaxError, struct.error): return None


def run(binary, *args):
    p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
    if p.returncode:
        print(f"picrypt {' '.join(map(str, args))} exited {p.returncode}: {p.stderr.strip()}")
    return p.returncode == 0


def check_binary(check, binary):
    rng = random.Random(int.from_bytes(os.urandom(8), "little"))
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        key = os.urandom(32)
        write_key(t / "py.key", key)
        # (a) Python encrypts, Rust subtracts and decrypts
        for h, w, ch in [(1, 1, 1), (7, 5, 3), (64, 33, 4)]:
            tag, n = f"{h}x{w}x{ch}", h * w * ch
            a, b = ([rng.randrange(256) for _ in range(n)] for _ in range(2))
            ca, cb = (encrypt(key, x, w, h, ch, os.urandom(24)) for x in (a, b))
            (t / "a.picrypt").write_bytes(encode(ca)); (t / "b.picrypt").write_bytes(encode(cb))
            ok = run(binary, "diff", t / "a.picrypt", t / "b.picrypt", "-o", t / "d.picrypt")
            check(f"rust diff {tag} bytes", ok and (t / "d.picrypt").read_bytes() == encode(subtract(ca, cb)))
            for src, descr, want in [("d", "<i2", [x - y for x, y in zip(a, b)]), ("a", "|u1", a)]:
                out = t / f"{src}.npy"
                out.unlink(missing_ok=True)
                ok = run(binary, "decrypt", "--key", t / "py.key", t / f"{src}.picrypt", "-o", out)
                hdr, aligned, vals = (ok and safe(read_npy, out)) or ({}, False, None)
                check(f"rust decrypt {src} {tag} npy header", hdr.get("descr") == descr and aligned
                      and hdr.get("shape") == (h, w, ch) and hdr.get("fortran_order") is False)
                check(f"rust decrypt {src} {tag} values", vals == want)
            bad = bytearray(encode(subtract(ca, cb))); bad[-1] ^= 1
            (t / "bad.picrypt").write_bytes(bad)
            check(f"rust refuses tampered {tag}", subprocess.run(
                [binary, "decrypt", "--key", t / "py.key", t / "bad.picrypt", "-o", t / "bad.npy"],
                capture_output=True).returncode != 0)
        # (b) Rust makes the key and encrypts a PNG, Python decrypts
        ok = run(binary, "keygen", "-o", t / "rs.key")
        check("rust keygen", ok)
        if not ok:
            return
        check("rust key file mode 0600", (t / "rs.key").stat().st_mode & 0o777 == 0o600)
        try:
            rkey = read_key(t / "rs.key")
        except ValueError as e:
            return check(f"rust key file readable ({e})", False)
        for w, h, ch in [(13, 9, 3), (1, 1, 1), (40, 3, 4), (6, 7, 2)]:
            pix = [rng.randrange(256) for _ in range(w * h * ch)]
            write_png(t / "in.png", pix, w, h, ch)
            ok = run(binary, "encrypt", "--key", t / "rs.key", t / "in.png", "-o", t / "x.picrypt")
            c = safe(parse, (t / "x.picrypt").read_bytes()) if ok else None
            check(f"rust encrypt png {w}x{h}x{ch} header", c is not None and len(c.terms) == 1 and
                  (c.width, c.height, c.channels, c.modulus_bits, c.range_min, c.range_max)
                  == (w, h, ch, 9, 0, 255))
            check(f"rust encrypt png {w}x{h}x{ch} pixels", c is not None and safe(decrypt, rkey, c) == pix)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--picrypt", help="path to the picrypt binary for the cross-implementation checks")
    args = ap.parse_args()
    check = Checker()
    check_kat(check)
    if args.picrypt:
        check_binary(check, args.picrypt)
    print(f"{check.passed} passed, {check.failed} failed")
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
