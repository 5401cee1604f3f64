// Turning class probabilities into a decision and a CSV: shared by `labelloop predict` and the
// Predict view, so the window and the command line always agree.
import type { OperatingPoint } from './report';

/** The saved operating point decides two-class models; otherwise the most probable class wins. */
export function decideLabel(probabilities: number[], classes: string[], operatingPoint: OperatingPoint | null): string {
  if (operatingPoint && classes.length === 2) {
    const positive = classes.indexOf(operatingPoint.positiveClass);
    if (positive >= 0) return (probabilities[positive] as number) >= operatingPoint.threshold ? operatingPoint.positiveClass : (classes[1 - positive] as string);
  }
  let best = 0;
  for (let i = 1; i < probabilities.length; i++) if ((probabilities[i] as number) > (probabilities[best] as number)) best = i;
  return classes[best] as string;
}

export interface PredictionLine {
  file: string;
  predicted: string | null;
  probabilities: number[] | null;
  error: string | null;
}

/** RFC 4180 CSV: file, predicted, one p_<class> column per class, error (empty when fine). */
export function predictionsCsv(classes: string[], lines: PredictionLine[]): string {
  const rows = [['file', 'predicted', ...classes.map((c) => `p_${c}`), 'error']];
  for (const line of lines) {
    rows.push([line.file, line.predicted ?? '', ...classes.map((_, i) => line.probabilities?.[i]?.toFixed(6) ?? ''), line.error ?? '']);
  }
  return `${rows.map((row) => row.map(csvField).join(',')).join('\n')}\n`;
}

/** A prediction for one face of a photo; a photo without a face (or unreadable) has `face` null. */
export interface FacePredictionLine extends PredictionLine {
  face: number | null;
  /** The detector's box in the photo's own pixels. */
  box: { x: number; y: number; width: number; height: number } | null;
  score: number | null;
}

/** `file,face,x,y,width,height,score,predicted,p_<class>…,error`: a row per face, one with empty face columns for a photo without. */
export function facePredictionsCsv(classes: string[], lines: FacePredictionLine[]): string {
  const rows = [['file', 'face', 'x', 'y', 'width', 'height', 'score', 'predicted', ...classes.map((c) => `p_${c}`), 'error']];
  for (const line of lines) {
    const box = line.box ? [line.box.x, line.box.y, line.box.width, line.box.height].map((v) => String(Math.round(v))) : ['', '', '', ''];
    rows.push([line.file, line.face?.toString() ?? '', ...box, line.score?.toFixed(4) ?? '', line.predicted ?? '', ...classes.map((_, i) => line.probabilities?.[i]?.toFixed(6) ?? ''), line.error ?? '']);
  }
  return `${rows.map((row) => row.map(csvField).join(',')).join('\n')}\n`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
