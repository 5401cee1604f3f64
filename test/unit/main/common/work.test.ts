// Long work's shared pieces: the session slot (one at a time, a cancel that comes before the work
// can hear it is kept, closing a project waits for its work) and the progress throttle.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startWork, throttled, WorkSlot } from '../../../../src/main/common/work';
import { CancelledError } from '../../../../src/main/common/errors';

type Status = { id: string; state: 'running' | 'finished' | 'cancelled' | 'failed' };

describe('the work slot', () => {
  it('refuses new work while some runs, keeps a cancel that came before the work could hear it, and closing its project waits for it', async () => {
    const slot = new WorkSlot<Status>((s) => s.id, 'busy now');
    const status: Status = { id: 'a', state: 'running' };
    const handle = slot.begin('/p', status);
    expect(() => slot.begin('/p', { id: 'b', state: 'running' })).toThrow('busy now');
    expect(slot.running).toBe(true);
    expect(slot.cancel('other')).toBe(false);
    // Cancelled while its input is still being gathered: the work's own cancel runs as soon as it is set.
    expect(slot.cancel('a')).toBe(true);
    expect(handle.cancelled()).toBe(true);
    const workCancel = vi.fn();
    handle.setCancel(workCancel);
    expect(workCancel).toHaveBeenCalledTimes(1);

    let closed = false;
    const closing = slot.closeProject('/p').then(() => (closed = true));
    await Promise.resolve();
    expect(closed).toBe(false);
    status.state = 'cancelled';
    handle.finish();
    await closing;
    expect(slot.statusOf('/p')).toBeNull();
    expect(slot.running).toBe(false);
    // Another project's work is not touched by this one closing.
    slot.begin('/q', { id: 'c', state: 'running' });
    await slot.closeProject('/p');
    expect(slot.statusOf('/q')?.id).toBe('c');
  });
});

describe('in-process work', () => {
  it('reports progress, its result, a cancel as cancelled and a throw as failed', async () => {
    const progress: number[] = [];
    const done = startWork<string, number>({ workerData: { kind: 'test' }, inProcess: async (hooks) => (hooks.onProgress(1), 'ok'), onProgress: (p) => progress.push(p), cancelledMessage: 'stopped' });
    expect(await done.outcome).toEqual({ result: 'ok' });
    expect(progress).toEqual([1]);
    const cancelled = startWork<string, number>({
      workerData: { kind: 'test' },
      inProcess: async (hooks) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        if (hooks.isCancelled()) throw new CancelledError('The test');
        return 'not cancelled';
      },
      onProgress: () => undefined,
      cancelledMessage: 'stopped',
    });
    cancelled.cancel();
    expect(await cancelled.outcome).toEqual({ state: 'cancelled', message: 'stopped' });
    const failed = startWork<string, number>({ workerData: { kind: 'test' }, inProcess: async () => Promise.reject(new Error('broken')), onProgress: () => undefined, cancelledMessage: 'stopped' });
    expect(await failed.outcome).toEqual({ state: 'failed', message: 'broken' });
  });
});

describe('the progress throttle', () => {
  afterEach(() => vi.useRealTimers());

  it('sends at most one step every 200 ms, and always the last', () => {
    vi.useFakeTimers();
    const sent: number[] = [];
    const emit = throttled((p: { done: number; total: number }) => sent.push(p.done));
    for (let done = 1; done <= 10; done++) {
      emit({ done, total: 10 });
      vi.advanceTimersByTime(50);
    }
    // Steps 1, 5 and 9 are 200 ms apart; 10 is the last.
    expect(sent).toEqual([1, 5, 9, 10]);
  });
});
