// The CLI's progress in a log (no TTY): a line about every tenth of Auto's comparison and of the embedding.
import { describe, expect, it } from 'vitest';
import { ProgressPrinter } from '../../../../src/main/cli/progress';

describe('CLI progress without a terminal', () => {
  it("prints Auto's comparison and the embedding at about every tenth, nothing in between", () => {
    let text = '';
    const printer = new ProgressPrinter({ isTTY: false, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream);
    const memory = { numTensors: 0, numBytes: 0 };
    for (const phase of ['choosing', 'embedding'] as const) {
      for (let done = 0; done <= 100; done += 5) printer.onEvent('training.progress', { runId: 'r', phase, done, total: 100, imagesPerSecond: 50, etaSeconds: null, memory });
    }
    const lines = text.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('Auto: comparing backbones, '))).toHaveLength(11);
    expect(lines.filter((l) => l.startsWith('embedding '))).toHaveLength(11);
    expect(lines[10]).toBe('Auto: comparing backbones, 100/100 images, 50.0 img/s');
  });
});
