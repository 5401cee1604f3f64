// File names and folder names can hold any character but '/' and NUL: a newline in one would let it
// print a line of its own (a fake "unreadable:" line) and an escape sequence could rewrite the
// terminal. Everything the CLI prints that came from the disk goes through here first.

/** Characters a terminal acts on instead of showing: C0 and C1 controls, DEL, line/paragraph separators and bidi overrides. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/** The text with every control character written as an escape (`\n`, `\x1b`, `\u202e`), and `\` as `\\` so escapes are unambiguous. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => {
    const named = NAMED[char];
    if (named) return named;
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
