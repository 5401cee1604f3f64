// The one contract between the renderer and the main-process services.
// Every route's input is validated with its zod schema in main (the renderer is untrusted);
// outputs are typed from their schemas so both transports and the client share one shape.
import { z } from 'zod';

export type { Envelope } from './envelope';
export { ApiError, unwrap } from './envelope';

/** A path relative to the project root, always with forward slashes. */
export const RelPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'path contains a NUL byte');

/** A class is a direct subfolder of the project: a plain folder name. */
export const ClassName = z
  .string()
  .trim()
  .min(1, 'class name is empty')
  .max(100, 'class name is longer than 100 characters')
  .refine((n) => !/[/\\\0:*?"<>|]/.test(n), 'class name may not contain / \\ : * ? " < > |')
  .refine((n) => n !== '.' && n !== '..' && !n.startsWith('.'), 'class name may not start with a dot');

export const ImageStatus = z.enum(['pending', 'ok', 'unreadable']);

export const ImageItem = z.object({
  path: RelPath,
  /** Class folder name, or null for images lying in the project root (unlabeled). */
  label: z.string().nullable(),
  size: z.number(),
  /** Changes whenever the file's content may have changed: keys the thumbnail cache. */
  version: z.string(),
  status: ImageStatus,
  problem: z.string().optional(),
});

export const DatasetSnapshot = z.object({
  root: z.string(),
  name: z.string(),
  classes: z.array(z.string()),
  items: z.array(ImageItem),
  /** Things the scan skipped or could not read, said in words a user understands. */
  warnings: z.array(z.string()),
  history: z.object({ canUndo: z.boolean(), canRedo: z.boolean() }),
  /** What start-up recovery did with moves a crash left unfinished. */
  recovered: z.array(z.string()),
});

export const Move = z.object({ from: RelPath, to: RelPath });
export const MoveResult = z.object({
  moves: z.array(Move),
  failed: z.array(z.object({ path: z.string(), message: z.string() })),
  history: DatasetSnapshot.shape.history,
});

export const RecentProject = z.object({ path: z.string(), name: z.string(), openedAt: z.string() });

export const ImageDetails = z.object({
  path: RelPath,
  status: ImageStatus,
  problem: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  format: z.string().optional(),
  /** Facts worth knowing that are not errors: CMYK, 16-bit, grayscale, alpha, EXIF rotation. */
  notes: z.array(z.string()),
});

export const ImportResult = z.object({
  imported: z.array(RelPath),
  duplicates: z.array(z.object({ name: z.string(), existing: RelPath })),
  rejected: z.array(z.object({ name: z.string(), message: z.string() })),
});

export const ThumbnailProgress = z.object({ done: z.number(), total: z.number(), unreadable: z.number() });

const empty = z.object({}).strict();

function route<I extends z.ZodType, O extends z.ZodType>(input: I, output: O) {
  return { input, output };
}

export const routes = {
  'app.info': route(empty, z.object({ host: z.enum(['electron', 'web']), version: z.string(), canPickFolder: z.boolean() })),
  'project.recent': route(empty, z.object({ recent: z.array(RecentProject) })),
  'project.pickFolder': route(empty, z.object({ path: z.string().nullable() })),
  'project.open': route(z.object({ path: z.string().min(1).max(4096) }).strict(), DatasetSnapshot),
  'project.openDemo': route(empty, DatasetSnapshot),
  'project.current': route(empty, DatasetSnapshot.nullable()),
  'project.close': route(empty, z.object({ closed: z.boolean() })),
  'dataset.scan': route(empty, DatasetSnapshot),
  'dataset.relabel': route(
    z.object({ paths: z.array(RelPath).min(1).max(100_000), to: ClassName.nullable() }).strict(),
    MoveResult,
  ),
  'dataset.undo': route(empty, MoveResult),
  'dataset.redo': route(empty, MoveResult),
  'dataset.details': route(z.object({ path: RelPath }).strict(), ImageDetails),
  'classes.create': route(z.object({ name: ClassName }).strict(), DatasetSnapshot),
  'classes.rename': route(z.object({ from: ClassName, to: ClassName }).strict(), DatasetSnapshot),
  'classes.delete': route(z.object({ name: ClassName }).strict(), DatasetSnapshot),
  'thumbnails.status': route(empty, ThumbnailProgress),
} as const;

export const events = {
  /** Probing found out whether images decode: badges update without a rescan. */
  'dataset.itemsUpdated': z.object({ items: z.array(ImageItem.pick({ path: true, status: true, problem: true })) }),
  /** Files changed behind our back (import, another window's relabel): the client should refetch. */
  'dataset.changed': z.object({ reason: z.string() }),
  'thumbnails.progress': ThumbnailProgress,
  /** The open project folder vanished or became unreadable; the app stays up and says so. */
  'project.lost': z.object({ root: z.string(), message: z.string() }),
} as const;

export type Routes = typeof routes;
export type RouteName = keyof Routes;
export type RouteInput<R extends RouteName> = z.input<Routes[R]['input']>;
export type RouteOutput<R extends RouteName> = z.output<Routes[R]['output']>;
export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

export type ImageItem = z.output<typeof ImageItem>;
export type DatasetSnapshot = z.output<typeof DatasetSnapshot>;
export type MoveResult = z.output<typeof MoveResult>;
export type ImageDetails = z.output<typeof ImageDetails>;
export type ImportResult = z.output<typeof ImportResult>;
export type RecentProject = z.output<typeof RecentProject>;
export type ThumbnailProgress = z.output<typeof ThumbnailProgress>;

export const routeNames = Object.keys(routes) as RouteName[];
export const eventNames = Object.keys(events) as EventName[];

export function isRouteName(name: unknown): name is RouteName {
  return typeof name === 'string' && Object.hasOwn(routes, name);
}

export type ThumbnailSize = 'thumb' | 'large';

/** Upload limit for one imported file: a classifier's training image is never this big. */
export const MAX_IMPORT_BYTES = 200 * 1024 * 1024;

/** The interface the renderer talks to: window.api in Electron, the WebSocket client in web mode. */
export interface LabelLoopApi {
  readonly host: 'electron' | 'web';
  call<R extends RouteName>(route: R, input: RouteInput<R>): Promise<RouteOutput<R>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** A URL the renderer can put in <img src>, confined to the open project by main. */
  imageUrl(path: string, version: string, size: ThumbnailSize): string;
  /** Copies a file's bytes into a class folder (null: the project root, unlabeled). */
  importFile(className: string | null, name: string, data: ArrayBuffer): Promise<ImportResult>;
}
