// What a finished run says: one line for people (time taken, accuracy, which epoch was kept)
// and a details line with the diagnostics, which the window shows collapsed.
import type { TrainingConfig } from '../../shared/contract';
import { accuracy, describeAccuracy } from '../../shared/metrics';
import type { TrainingReport } from '../../shared/report';
import { holdoutMonitor } from './holdoutMonitors';

export interface RunDiagnostics {
  /** Seconds from the click on Train to the saved report. */
  elapsedSeconds: number;
  /** The main process's event-loop lag p99 during the run, in milliseconds. */
  eventLoopLagP99Ms: number;
}

export function finishMessage(report: TrainingReport, config: TrainingConfig, diagnostics: RunDiagnostics): { message: string; details: string } {
  const plannedEpochs = config.epochs + (report.fineTune ? config.fineTuneEpochs : 0);
  const ran = report.epochs.length;
  const monitor = totalOf(report.counts.val) > 0 ? config.checkpointMonitor : 'loss';
  const took = formatDuration(diagnostics.elapsedSeconds);
  const parts = [report.stopReason ? `Stopped early at epoch ${ran} of ${plannedEpochs} after ${took}` : `Finished in ${took}`];
  if (report.accuracy) {
    parts.push(`accuracy ${describeAccuracy(report.accuracy)}`);
  } else {
    // Reports written before accuracy estimates existed.
    parts.push(report.valAccuracy === null ? `no val split (${report.evaluatedOn} accuracy ${percent(accuracy(report.confusion))})` : `val accuracy ${percent(report.valAccuracy)}`);
    if (report.evaluatedOn === 'test') parts.push(`test accuracy ${percent(accuracy(report.confusion))}`);
  }
  if (report.head?.fit === 'converged' && !report.fineTune) {
    parts.push(`head fitted to convergence (L2 ${report.head.l2} chosen by cross-validation on the train split)`);
  } else {
    // The small CNN watches its inner holdout (or, without one, its training metrics): the val split chose nothing.
    const scratch = report.head?.fit === 'scratch' ? report.head : null;
    const watchedMonitor = scratch ? holdoutMonitor(config.checkpointMonitor, scratch.holdoutImages > 0) : monitor;
    const watched = !scratch ? monitor : scratch.holdoutImages > 0 ? `${watchedMonitor} on the ${scratch.holdoutImages} held-out train images` : `${watchedMonitor} on the train images, too few to hold some out`;
    parts.push(report.bestEpoch >= 0 ? `kept epoch ${report.bestEpoch + 1} of ${ran} (best ${watched})` : `kept the last epoch (${watched} never improved)`);
  }

  const { timing } = report;
  const details = [
    `Engine: ${report.backend}`,
    `${timing.embedded} image(s) ${report.head?.fit === 'scratch' ? 'decoded' : 'embedded'}${timing.embedded > 0 ? ` at ${timing.imagesPerSecond.toFixed(1)}/s` : ''}, ${timing.fromCache} from the cache`,
    `training ${formatDuration(timing.trainSeconds)}`,
    ...(report.head?.fit === 'converged' ? [`stage 1: ${report.head.iterations} L-BFGS iteration(s)${report.head.converged ? ', converged' : ', stopped at the iteration limit'}`] : []),
    ...(report.stopReason ? [`stopped because ${report.stopReason}`] : []),
    ...(report.skipped.length > 0 ? [`${report.skipped.length} unreadable image(s) skipped`] : []),
    ...(report.notes ?? []),
    `main event loop lag p99 ${diagnostics.eventLoopLagP99Ms.toFixed(1)} ms`,
  ];
  return { message: parts.join(' · '), details: details.join(' · ') };
}

/** "41 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

function percent(value: number | null): string {
  return value === null ? 'n/a' : `${(value * 100).toFixed(1)}%`;
}

function totalOf(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
