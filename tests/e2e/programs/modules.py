# Python's C extension modules and the libraries behind them (sqlite3, zlib, bz2, lzma,
# OpenSSL, libmpdec, expat, libffi), run by e2e_programs with and without the shim.
import bz2
import ctypes
import decimal
import hashlib
import lzma
import sqlite3
import xml.etree.ElementTree as ET
import zlib

db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, data BLOB)")
db.executemany("INSERT INTO t(data) VALUES(?)",
               [(zlib.compress(b"row %d " % i * (i % 50 + 1)),) for i in range(5000)])
unpacked = sum(len(zlib.decompress(d)) for (d,) in db.execute("SELECT data FROM t"))
print("sqlite3+zlib", db.execute("SELECT count(*), sum(length(data)) FROM t").fetchone(), unpacked)

data = b"".join(b"%d," % (i * i) for i in range(20000))
for name, module in ("bz2", bz2), ("lzma", lzma):
    packed = module.compress(data)
    print(name, len(packed), module.decompress(packed) == data)
print("hashlib", hashlib.sha512(data).hexdigest()[:32], hashlib.md5(data).hexdigest())

decimal.getcontext().prec = 300
print("decimal", str(decimal.Decimal(2).sqrt())[-40:])

root = ET.fromstring("<r>" + "".join("<i n='%d'>%d</i>" % (i, i * i) for i in range(20000)) + "</r>")
print("expat", len(root), sum(int(e.text) for e in root))

# qsort calling back into Python through a libffi closure.
libc = ctypes.CDLL(None)
values = (ctypes.c_int * 5000)(*[(i * 7919) % 5003 for i in range(5000)])
compare = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))(
    lambda a, b: a[0] - b[0])
libc.qsort(values, len(values), ctypes.sizeof(ctypes.c_int), compare)
print("ctypes", list(values[:5]), list(values[-3:]), all(values[i] <= values[i + 1] for i in range(4999)))
