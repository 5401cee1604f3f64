// Training progress for a terminal: one redrawn bar on a TTY, plain lines in logs and CI.
import type { EventName, EventPayload } from '../../shared/contract';

export class ProgressPrinter {
  private barShown = false;
  private lastPlainEmbed = -1;

  constructor(private readonly out: NodeJS.WriteStream) {}

  private get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  onEvent(event: EventName, payload: unknown): void {
    if (event === 'training.progress') this.progress(payload as EventPayload<'training.progress'>);
    else if (event === 'training.epoch') {
      const { epoch, logs } = payload as EventPayload<'training.epoch'>;
      const parts = Object.entries(logs).map(([k, v]) => `${k} ${k === 'lr' ? v.toExponential(2) : v.toFixed(4)}`);
      this.line(`epoch ${epoch + 1}: ${parts.join('  ')}`);
    }
  }

  line(text: string): void {
    this.clearBar();
    this.out.write(`${text}\n`);
  }

  finish(): void {
    this.clearBar();
  }

  private progress(p: EventPayload<'training.progress'>): void {
    const eta = p.etaSeconds === null ? '' : ` ETA ${Math.round(p.etaSeconds)}s`;
    const label =
      p.phase === 'embedding' || p.phase === 'decoding' || p.phase === 'choosing'
        ? `${p.phase === 'choosing' ? 'Auto: comparing backbones,' : p.phase} ${p.done}/${p.total} images, ${p.imagesPerSecond.toFixed(1)} img/s${eta}`
        : p.phase === 'training'
          ? `epoch ${(p.epoch ?? 0) + 1}/${p.epochs} loss ${(p.loss ?? NaN).toFixed(4)}, ${p.imagesPerSecond.toFixed(0)} img/s${eta}`
          : p.phase;
    if (this.tty) {
      const width = 24;
      const filled = p.total > 0 ? Math.round((p.done / p.total) * width) : 0;
      this.out.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${label}\u001b[K`);
      this.barShown = true;
    } else if (p.phase === 'embedding' || p.phase === 'decoding' || p.phase === 'choosing') {
      // Plain output: about every 10% of the embedding (and of Auto's comparison), and its end.
      const decile = Math.floor((p.done / Math.max(1, p.total)) * 10) + (p.phase === 'choosing' ? 100 : 0);
      if (decile !== this.lastPlainEmbed) {
        this.lastPlainEmbed = decile;
        this.out.write(`${label}\n`);
      }
    }
  }

  private clearBar(): void {
    if (this.barShown) this.out.write('\r\u001b[K');
    this.barShown = false;
  }
}
