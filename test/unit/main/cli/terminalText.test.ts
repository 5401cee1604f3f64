import { describe, expect, it } from 'vitest';
import { printable } from '../../../../src/main/cli/terminalText';

describe('printable', () => {
  it('leaves ordinary names alone, accents, spaces and emoji included', () => {
    expect(printable('NG/photo (2) été 🙂.jpg')).toBe('NG/photo (2) été 🙂.jpg');
  });

  it('escapes newlines, so a file name cannot print a line of its own', () => {
    const forged = 'a.jpg: fine\nunreadable: OK/b.jpg: Not an image';
    expect(printable(forged)).toBe('a.jpg: fine\\nunreadable: OK/b.jpg: Not an image');
    expect(printable(forged).split('\n')).toHaveLength(1);
  });

  it('escapes every other control: CR, tab, ESC, NUL, DEL, C1, separators and bidi overrides', () => {
    expect(printable('a\rb\tc')).toBe('a\\rb\\tc');
    expect(printable('\u001b[2Kx\u0000\u007f\u0085\u009b')).toBe('\\x1b[2Kx\\x00\\x7f\\x85\\x9b');
    expect(printable('x\u2028y\u2029z\u202egpj.exe')).toBe('x\\u2028y\\u2029z\\u202egpj.exe');
  });

  it('doubles a backslash, so an escape in the output always means an escaped character', () => {
    expect(printable('a\\nb')).toBe('a\\\\nb');
    expect(printable('a\nb')).not.toBe(printable('a\\nb'));
  });
});
