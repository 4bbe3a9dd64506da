import { describe, expect, it } from 'vitest';
import { cidrRange, cidrsOverlap } from '../../src/util/cidr.js';

describe('cidrRange: one 128-bit space, IPv4 as its mapped form', () => {
  it.each([
    ['10.0.0.0/8', 0xffff0a000000n, 0xffff0affffffn],
    ['10.1.2.3', 0xffff0a010203n, 0xffff0a010203n],
    ['::ffff:10.1.2.3', 0xffff0a010203n, 0xffff0a010203n],
    ['::ffff:a00:0/104', 0xffff0a000000n, 0xffff0affffffn],
    ['10.1.2.3/8', 0xffff0a000000n, 0xffff0affffffn],
    ['::/0', 0n, (1n << 128n) - 1n],
    ['fd00::1/8', 0xfdn << 120n, (0xfen << 120n) - 1n],
    ['::1', 1n, 1n],
    ['64:ff9b::1.2.3.4', (0x64n << 112n) | (0xff9bn << 96n) | 0x01020304n, (0x64n << 112n) | (0xff9bn << 96n) | 0x01020304n],
  ])('%s', (cidr, first, last) => {
    expect(cidrRange(cidr)).toEqual({ first, last });
  });
});

describe('cidrsOverlap', () => {
  it.each([
    ['10.0.0.0/8', '10.2.0.0/16', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0/8', false],
    ['127.0.0.1/32', '127.0.0.2/32', false],
    ['127.0.0.0/8', '127.0.0.9/32', true],
    // The same IPv4 addresses written as IPv4-mapped IPv6, hex or dotted.
    ['10.0.0.0/8', '::ffff:a01:0/112', true],
    ['127.0.0.1', '::ffff:127.0.0.1', true],
    ['::ffff:a00:0/104', '10.9.9.9', true],
    ['::ffff:a00:0/104', '11.9.9.9', false],
    // IPv6 against IPv6, and against IPv4 outside the mapped space.
    ['fd00::/8', 'fd00:1::/32', true],
    ['fd00::/8', 'fe00::/8', false],
    ['2001:db8::/32', '10.0.0.0/8', false],
    ['::/1', '10.0.0.0/8', true],
    ['64:ff9b::1.2.3.4', '1.2.3.4', false],
  ])('%s and %s: %s', (a, b, overlap) => {
    expect(cidrsOverlap(a, b)).toBe(overlap);
    expect(cidrsOverlap(b, a)).toBe(overlap);
  });
});
