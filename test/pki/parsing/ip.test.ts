import { describe, expect, it } from 'vitest';
import { bytesToIp, cidrToConstraintBytes, ipToBytes } from '../../../src/pki/parsing/ip.js';

describe('IP octet conversions', () => {
  it.each(['10.1.2.3', '::1', '::', '1::', '2001:db8::1', 'fe80::1:0:0:2', '1:2:3:4:5:6:7:8'])('%s round-trips', (ip) => {
    expect(bytesToIp(ipToBytes(ip)!)).toBe(ip);
  });

  it('reads embedded IPv4 and compresses the longest zero run', () => {
    expect(bytesToIp(ipToBytes('::ffff:1.2.3.4')!)).toBe('::ffff:102:304');
    expect(bytesToIp(ipToBytes('1:0:0:2:0:0:0:3')!)).toBe('1:0:0:2::3');
  });

  it('rejects non-addresses', () => {
    expect(ipToBytes('example.com')).toBeNull();
    expect(() => cidrToConstraintBytes('10.0.0.0/33')).toThrow();
  });

  it('encodes a CIDR as network address followed by mask', () => {
    expect(Array.from(cidrToConstraintBytes('10.1.2.3/12'))).toEqual([10, 0, 0, 0, 255, 240, 0, 0]);
    expect(cidrToConstraintBytes('fd00::/8').subarray(16, 18)).toEqual(new Uint8Array([0xff, 0]));
  });
});
