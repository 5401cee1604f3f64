// Reading back where the project's face crops came from (.labelloop/faces.jsonl): a crop in its
// source photo, and the crops of each photo. Crops are found by content hash, so a crop that a
// relabel moved to another class is still found; one deleted since is simply left out.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FaceContext } from '../../../shared/contract';
import type { ProjectSession } from '../../project/project';
import { DATA_DIR } from '../../project/scan';
import { FACES_FILE, type FaceRecord, SOURCES_DIR } from './importFaces';

/** A sha256 in hex: the only form a record's hashes may take, since sourceHash names a file under .labelloop. */
const CONTENT_HASH = /^[0-9a-f]{64}$/;

/** Every whole record; a torn or foreign line (a crash mid-append, a hand edit, a path in place of a hash) is skipped. */
export async function readFaceRecords(projectRoot: string): Promise<FaceRecord[]> {
  const text = await readFile(path.join(projectRoot, DATA_DIR, FACES_FILE), 'utf8').catch(() => '');
  return text.split('\n').flatMap((line) => {
    try {
      const record = JSON.parse(line) as FaceRecord;
      const wellFormed = CONTENT_HASH.test(String(record.cropHash)) && CONTENT_HASH.test(String(record.sourceHash)) && record.box;
      return wellFormed ? [record] : [];
    } catch {
      return [];
    }
  });
}

/** Each image's path by content hash, as the project is now. */
async function pathsByHash(project: ProjectSession): Promise<Map<string, string>> {
  const hashes = await project.contentHashes(project.snapshot().items);
  return new Map([...hashes].map(([relative, hash]) => [hash, relative]));
}

/** A crop in its photo: the photo's preview (a data URL, null if it was not kept), this face and the photo's others. */
export async function faceContext(project: ProjectSession, relative: string): Promise<FaceContext | null> {
  const item = project.snapshot().items.find((i) => i.path === relative);
  if (!item) return null;
  const hash = (await project.contentHashes([item])).get(relative);
  const records = await readFaceRecords(project.root);
  const own = records.find((r) => r.cropHash === hash);
  if (!own) return null;
  const where = await pathsByHash(project);
  const preview = await readFile(path.join(project.root, DATA_DIR, SOURCES_DIR, `${own.sourceHash}.jpg`)).catch(() => null);
  // One entry per face of the photo: a photo imported twice (another margin, another class) has two
  // records of each face, with the same box; the one whose crop is still in the project is shown.
  const byBox = new Map<string, { face: number; box: FaceRecord['box']; path: string | null }>();
  for (const r of records.filter((record) => record.sourceHash === own.sourceHash)) {
    const key = [r.box.x, r.box.y, r.box.width, r.box.height].join(',');
    const entry = { face: r.face, box: r.box, path: where.get(r.cropHash) ?? null };
    const known = byBox.get(key);
    if (!known || (known.path === null && entry.path !== null) || r.cropHash === own.cropHash) byBox.set(key, entry);
  }
  const faces = [...byBox.values()].sort((a, b) => a.face - b.face);
  return {
    source: own.source,
    sourceHash: own.sourceHash,
    photo: preview ? `data:image/jpeg;base64,${preview.toString('base64')}` : null,
    width: own.photoWidth,
    height: own.photoHeight,
    face: own.face,
    faces,
  };
}

/** The photos crops came from, each with the paths its crops have now (photos with none left are left out). */
export async function facePhotos(project: ProjectSession): Promise<{ sourceHash: string; source: string; paths: string[] }[]> {
  const where = await pathsByHash(project);
  const bySource = new Map<string, { sourceHash: string; source: string; paths: Set<string> }>();
  for (const record of await readFaceRecords(project.root)) {
    const current = where.get(record.cropHash);
    if (!current) continue;
    const photo = bySource.get(record.sourceHash) ?? { sourceHash: record.sourceHash, source: record.source, paths: new Set<string>() };
    photo.paths.add(current);
    bySource.set(record.sourceHash, photo);
  }
  return [...bySource.values()].map((p) => ({ sourceHash: p.sourceHash, source: p.source, paths: [...p.paths].sort() }));
}
