// The zip writer behind the export download, read back by an independent reader (Python's
// zipfile, which every machine of this project has), CRCs checked.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32, zipFiles } from '../../../../src/main/common/zip';
import { tempDir } from '../../../helpers/fixtures';

const run = promisify(execFile);

describe('zip writer', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it('writes an archive that other tools read back byte for byte', async () => {
    const files: Record<string, Buffer> = {
      'model.json': Buffer.from(JSON.stringify({ layers: Array.from({ length: 200 }, (_, i) => ({ name: `dense_${i}` })) })),
      'weights.bin': randomBytes(70_000), // incompressible: stored
      'empty.txt': Buffer.alloc(0),
      'läbels ✓.json': Buffer.from('["NG","OK"]'),
    };
    for (const [name, data] of Object.entries(files)) await writeFile(path.join(dir, name), data);
    const chunks: Buffer[] = [];
    for await (const chunk of zipFiles(dir, Object.keys(files))) chunks.push(chunk);
    const archive = path.join(dir, 'out.zip');
    await writeFile(archive, Buffer.concat(chunks));

    const script = [
      'import json,sys,zipfile',
      'z=zipfile.ZipFile(sys.argv[1])',
      'assert z.testzip() is None',
      'print(json.dumps({i.filename: [i.compress_type, z.read(i).hex()] for i in z.infolist()}))',
    ].join('\n');
    const read = JSON.parse((await run('python3', ['-c', script, archive])).stdout) as Record<string, [number, string]>;
    expect(Object.keys(read)).toEqual(Object.keys(files));
    for (const [name, data] of Object.entries(files)) expect(read[name]?.[1]).toBe(data.toString('hex'));
    expect(read['model.json']?.[0]).toBe(8); // deflated
    expect(read['weights.bin']?.[0]).toBe(0); // stored
  });
});
