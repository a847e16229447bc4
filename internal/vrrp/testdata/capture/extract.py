import struct, sys, ipaddress
data = open(sys.argv[1],'rb').read()
magic, = struct.unpack('<I', data[:4])
assert magic in (0xa1b2c3d4, 0xa1b23c4d), hex(magic)
lt, = struct.unpack('<I', data[20:24])
off = 24
pk = []
while off < len(data):
    ts, tsu, incl, orig = struct.unpack('<IIII', data[off:off+16]); off += 16
    frame = data[off:off+incl]; off += incl
    assert lt == 1
    et, = struct.unpack('>H', frame[12:14]); p = frame[14:]
    if et == 0x0800:
        ihl = (p[0] & 15) * 4; tot, = struct.unpack('>H', p[2:4])
        src = ipaddress.ip_address(p[12:16]); dst = ipaddress.ip_address(p[16:20]); ttl = p[8]
        pay = p[ihl:tot]
    else:
        plen, = struct.unpack('>H', p[4:6]); ttl = p[7]
        src = ipaddress.ip_address(p[8:24]); dst = ipaddress.ip_address(p[24:40]); pay = p[40:40+plen]
    pk.append((src, dst, ttl, pay))
for src, dst, ttl, pay in pk:
    print(src, dst, ttl, pay.hex())
