// A face import's summary in words and its merging, shared by `labelloop faces` and the window
// (which imports photo by photo and adds each photo's summary to the whole).
import type { FaceImportSummary } from './contract';

export function emptySummary(photos: number): FaceImportSummary {
  return { photos, facesFound: 0, imported: [], duplicates: [], tooSmall: 0, noFace: [], unreadable: [], unrecorded: [], insideProject: [], cancelled: false };
}

/** `into` plus one more photo's (or batch's) summary. */
export function addSummary(into: FaceImportSummary, more: FaceImportSummary): FaceImportSummary {
  return {
    photos: into.photos + more.photos,
    facesFound: into.facesFound + more.facesFound,
    imported: [...into.imported, ...more.imported],
    duplicates: [...into.duplicates, ...more.duplicates],
    tooSmall: into.tooSmall + more.tooSmall,
    noFace: [...into.noFace, ...more.noFace],
    unreadable: [...into.unreadable, ...more.unreadable],
    unrecorded: [...into.unrecorded, ...more.unrecorded],
    insideProject: [...into.insideProject, ...more.insideProject],
    cancelled: into.cancelled || more.cancelled,
  };
}

/** The counts first, then one line per photo that needs a word. */
export function describeFaceImport(summary: FaceImportSummary): string[] {
  const lines = [
    `${summary.photos} photo(s): ${summary.facesFound} face(s) found, ${summary.imported.length} crop(s) saved, ${summary.duplicates.length} duplicate(s) skipped, ${summary.tooSmall} too small, ${summary.noFace.length} photo(s) without a face, ${summary.unreadable.length} unreadable${summary.cancelled ? ' (cancelled: what was done is kept)' : ''}`,
  ];
  for (const photo of summary.noFace) lines.push(`no face found: ${photo}`);
  for (const d of summary.duplicates) lines.push(`duplicate: ${d.crop} is already in the project as ${d.existing}`);
  for (const u of summary.unreadable) lines.push(`unreadable: ${u.path}: ${u.reason}`);
  for (const crop of summary.unrecorded) lines.push(`saved, but its source could not be recorded in .labelloop/faces.jsonl: ${crop}`);
  if (summary.insideProject.length > 0) {
    lines.push(`${summary.insideProject.length} image(s) inside the project skipped: they are its training images (face crops among them), not photos to cut; import photos from a folder outside it`);
  }
  return lines;
}
